// A finished run's exit code from its report: an INVALID run (the generator could not keep the plan)
// outranks failed thresholds, whose numbers it makes meaningless.
import { ExitCode } from '../common/exit-codes.ts';
import type { GeneratedReport } from './generate.ts';

export function reportExitCode(report: Pick<GeneratedReport, 'validity' | 'thresholds'>, checkThresholds = true): number {
  if (!report.validity.valid) return ExitCode.INVALID_RUN;
  if (checkThresholds && !report.thresholds.passed) return ExitCode.THRESHOLDS_FAILED;
  return ExitCode.OK;
}
