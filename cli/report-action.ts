// What `oct report` and `oct rebuild-results` share: pick the run, regenerate the report from the
// store, print the summary, write JUnit, and turn the verdict into an exit code.
import type { Logger } from '../common/log.ts';
import { generateReport, printSummary } from '../report/generate.ts';
import { writeJunit } from '../report/junit.ts';
import { ExitCode } from '../common/exit-codes.ts';
import { reportExitCode } from '../report/exit-code.ts';
import { openResults, pickRun, projectOf, runConfig, SourceError } from './results-source.ts';

export interface ReportActionOptions {
  resultsDir?: string;
  databaseUrl?: string;
  runId?: number;
  outDir?: string;
  projectDir?: string;
  checkThresholds: boolean;
  /** Percentiles from every stored result instead of the histograms. */
  exact?: boolean;
  junit?: string;
  log: Logger;
  write: (text: string) => void;
}

export async function reportAction(opts: ReportActionOptions): Promise<number> {
  let source: Awaited<ReturnType<typeof openResults>>;
  try {
    source = await openResults(opts);
  } catch (err) {
    if (err instanceof SourceError) {
      process.stderr.write(`oct: ${err.message}\n`);
      return ExitCode.INVALID_INPUT;
    }
    throw err;
  }
  try {
    let run: Awaited<ReturnType<typeof pickRun>>;
    try {
      run = await pickRun(source.store, opts.runId);
    } catch (err) {
      if (!(err instanceof SourceError)) throw err;
      process.stderr.write(`oct: ${err.message}\n`);
      return ExitCode.INVALID_INPUT;
    }
    const outDir = opts.outDir ?? source.resultsDir;
    if (!outDir) {
      process.stderr.write('oct: say where to write the report: --out DIR\n');
      return ExitCode.INVALID_INPUT;
    }
    const config = runConfig(run, source.resultsDir);
    const report = await generateReport({
      store: source.store,
      runId: run.id,
      outDir,
      projectDir: opts.projectDir ?? projectOf(source.resultsDir),
      config,
      log: opts.log,
      exact: opts.exact,
    });
    printSummary(report.summary, opts.write);
    if (opts.junit) writeJunit(report.thresholds, opts.junit, report.validity);
    return opts.checkThresholds ? reportExitCode(report) : ExitCode.OK;
  } finally {
    await source.store.close();
  }
}
