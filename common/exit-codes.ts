// Documented in README.md ("Exit codes"); CI pipelines depend on these numbers.
export const ExitCode = {
  OK: 0,
  /** An unexpected failure inside oct. */
  INTERNAL: 1,
  /** Bad arguments or an invalid config file: nothing ran. */
  INVALID_INPUT: 2,
  /** The test could not run (no turrets in time, database unreachable, every turret aborted, a port in use). */
  TEST_NOT_RUN: 3,
  /** The test ran, but at least one threshold failed. */
  THRESHOLDS_FAILED: 4,
  /**
   * The run is INVALID: the load generator could not produce the planned load (dropped iterations,
   * schedule lag, a saturated turret), so its numbers describe the generator, not the system.
   */
  INVALID_RUN: 5,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
