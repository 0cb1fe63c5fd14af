// The folder name of one run's artifacts; only `oct run` needs it, so it stays out of project loading.
/** results_<timestamp> as the original named it, to the microsecond so runs never collide. */
export function resultsDirName(now: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const micros = p(now.getMilliseconds() * 1000 + Math.floor(Math.random() * 1000), 6);
  return `results_${now.getFullYear()}.${p(now.getMonth() + 1)}.${p(now.getDate())}_${p(now.getHours())}.${p(now.getMinutes())}.${p(now.getSeconds())}_${micros}`;
}
