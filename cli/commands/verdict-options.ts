// The options `oct report` and `oct rebuild-results` share: how the report is judged and computed.
import type { Argv } from 'yargs';

export interface VerdictArgs {
  'check-thresholds': boolean;
  junit?: string;
  exact: boolean;
}

export function withVerdictOptions<T>(y: Argv<T>): Argv<T & VerdictArgs> {
  return y
    .option('check-thresholds', { type: 'boolean', default: false, describe: 'Exit with code 4 when a threshold fails' })
    .option('junit', { type: 'string', describe: 'Also write the thresholds as a JUnit XML file' })
    .option('exact', {
      type: 'boolean',
      default: false,
      describe: 'Percentiles from every stored result (SQL, cost grows with results) instead of the histograms (within 0.4%)',
    }) as Argv<T & VerdictArgs>;
}

/** The verdict options as reportAction takes them. */
export function verdictOptions(args: VerdictArgs): { checkThresholds: boolean; junit?: string; exact: boolean } {
  return { checkThresholds: args['check-thresholds'], junit: args.junit, exact: args.exact };
}
