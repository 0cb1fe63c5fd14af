// Prometheus text exposition as a map, so metrics tests assert exact values rather than grep lines.
/** Parses the exposition into "name{labels}" → value, for exact assertions. */
export function parseExposition(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}
