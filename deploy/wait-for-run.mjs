#!/usr/bin/env node
// The report Job's init container: waits until the HQ's /status says the run has ended. Plain
// JavaScript so it runs with node alone; an HQ that is not up yet, or restarting, is waited for.
const url = process.env.OCT_HQ_STATUS_URL;
const everyMs = Number(process.env.OCT_POLL_MS ?? 5000);
if (!url) {
  console.error('wait-for-run: OCT_HQ_STATUS_URL is not set');
  process.exit(2);
}
let last = '';
for (;;) {
  let state = 'unreachable';
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    state = res.ok ? ((await res.json())?.progress?.state ?? 'unknown') : `HTTP ${res.status}`;
  } catch (err) {
    state = `unreachable (${err?.cause?.code ?? err?.message ?? err})`;
  }
  if (state !== last) console.log(`wait-for-run: ${url} state=${state}`);
  last = state;
  if (state === 'finished' || state === 'failed') process.exit(0);
  await new Promise((r) => setTimeout(r, everyMs));
}
