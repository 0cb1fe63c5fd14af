// The documented rampup: canons/rampup canons per second, evenly spaced, so canon i starts at
// i × rampup/canons seconds; rampup 0 starts every canon at once. (The original Python turret
// actually started one canon per second whatever the config said; oct does what the docs say.)

/** Start offsets in milliseconds from the `start` order, one per canon, non-decreasing. */
export function rampupSchedule(canons: number, rampupSeconds: number): number[] {
  if (!Number.isInteger(canons) || canons < 0) throw new RangeError(`canons must be a non-negative integer, got ${canons}`);
  if (!Number.isFinite(rampupSeconds) || rampupSeconds < 0) throw new RangeError(`rampup must be a finite number >= 0, got ${rampupSeconds}`);
  const stepMs = canons === 0 ? 0 : (rampupSeconds * 1000) / canons;
  return Array.from({ length: canons }, (_, i) => i * stepMs);
}
