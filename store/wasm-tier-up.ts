// While PGlite opens, V8 recompiles the WASM functions that Postgres' start-up runs hot with its
// optimising compiler, in the background, on the cores where the turrets are starting at the same
// moment, for functions mostly not hot afterwards. A high tiering budget during the open defers
// that; V8's default (1,800,000) is restored after, so what is hot later (COPY) is optimised too.
// bench/pglite-open.ts: CPU of the open 0.55-0.64x the default's (~0.5 vs ~0.8-1.0 s); a 400k-row
// COPY after a 100k-row warm-up 0.92-1.11x (noise). (--liftoff-only saves as much at start but
// left COPY 50% slower for good.) A hint: without effect if V8 refuses it.
import { setFlagsFromString } from 'node:v8';

export function deferWasmTierUp(defer: boolean): void {
  try {
    setFlagsFromString(`--wasm-tiering-budget=${defer ? 200_000_000 : 1_800_000}`);
  } catch {}
}
