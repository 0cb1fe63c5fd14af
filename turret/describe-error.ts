// Turns whatever a script threw into the error text of a result. The text is never empty, because
// an empty text reads as success (the original recorded `raise RuntimeError()` as one).
export function describeError(thrown: unknown): string {
  if (thrown instanceof Error || (typeof thrown === 'object' && thrown !== null && typeof (thrown as Error).message === 'string')) {
    const e = thrown as Error;
    if (e.message.trim() !== '') return e.message;
    const name = e.name || e.constructor?.name || 'Error';
    return `${name} (no message)`;
  }
  if (typeof thrown === 'string') return thrown.trim() !== '' ? thrown : 'Error (no message)';
  if (thrown === undefined || thrown === null) return `${String(thrown)} thrown (no message)`;
  let text: string;
  try {
    text = JSON.stringify(thrown) ?? String(thrown);
  } catch {
    text = String(thrown);
  }
  return `non-Error thrown: ${text.slice(0, 200)}`;
}
