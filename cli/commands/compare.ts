import { octVersion } from '../../common/version.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { ExitCode } from '../../common/exit-codes.ts';
import { loggerFromArgs } from '../logger-from-args.ts';

interface Args {
  a: string;
  b: string;
  'database-url'?: string;
  out: string;
  json: boolean;
  verbose?: boolean | number;
}

export const compareCommand: CommandModule<object, Args> = {
  command: 'compare <a> <b>',
  describe: 'Compare two runs (A the baseline, B the new one): p50/p95/p99, throughput and error rate per series, with deltas; writes compare.html',
  builder: (y) =>
    y
      .positional('a', { type: 'string', demandOption: true, describe: 'The baseline: a results folder, or a run id or name in --database-url' })
      .positional('b', { type: 'string', demandOption: true, describe: 'The run to judge: a results folder, or a run id or name' })
      .option('database-url', { type: 'string', describe: 'Postgres holding runs named by id or name (default: OCT_DATABASE_URL)' })
      .option('out', { alias: 'o', type: 'string', default: '.', describe: 'Folder to write compare.html into' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the comparison as JSON instead of a table' })
      .example('$0 compare demo/results/results_2025.01.02_10.00.00 demo/results/results_2025.01.03_10.00.00', 'Two local runs')
      .example('$0 compare 41 42 --database-url postgres://oct@db/oct', 'Runs 41 and 42 of a Postgres server'),
  handler: async (args) => {
    const log = loggerFromArgs(args);
    const { openRun } = await import('../run-ref.ts');
    const { SourceError } = await import('../results-source.ts');
    const { assertSameSeries, CompareError, compareStats, formatComparison } = await import('../../report/compare.ts');
    const { renderComparisonPage } = await import('../../report/render.ts');
    const { chartAssets } = await import('../../report/chart-assets.ts');
    const opened: Awaited<ReturnType<typeof openRun>>[] = [];
    try {
      for (const ref of [args.a, args.b]) opened.push(await openRun(ref, { databaseUrl: args['database-url'], log }));
      const [a, b] = opened as [(typeof opened)[0], (typeof opened)[0]];
      const comparison = compareStats(a, b);
      assertSameSeries(comparison);
      const dir = resolve(args.out);
      mkdirSync(dir, { recursive: true });
      const file = join(dir, 'compare.html');
      writeFileSync(
        file,
        renderComparisonPage({ title: `oct compare — ${a.label} against ${b.label}`, comparison, octVersion: octVersion(), chartAssets: chartAssets() }),
      );
      process.stdout.write(args.json ? `${JSON.stringify(comparison, null, 2)}\n` : formatComparison(comparison));
      process.stdout.write(`written: ${file}\n`);
    } catch (err) {
      if (err instanceof SourceError || err instanceof CompareError) {
        process.stderr.write(`oct compare: ${(err as Error).message}\n`);
        process.exitCode = ExitCode.INVALID_INPUT;
        return;
      }
      throw err;
    } finally {
      for (const o of opened) await o.close();
    }
  },
};
