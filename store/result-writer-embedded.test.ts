import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { memoryLogger } from '../common/log.ts';
import { ResultBatchBuilder } from '../protocol/results.ts';
import { openStore } from './open.ts';
import { ResultWriter } from './result-writer.ts';

const tmp = mkdtempSync(join(tmpdir(), 'oct-writer-embedded-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('embedded: the writer stores every row through the PGlite worker', async () => {
  const log = memoryLogger();
  const store = await openStore({ embeddedDir: join(tmp, 'results', 'db'), log });
  assert.equal(store.kind, 'embedded');
  assert.match(log.lines.join('\n'), /embedded database ready .*startupMs=\d+/);
  const run = await store.createRun({ name: 'embedded', config: {}, hqId: null });
  const w = new ResultWriter({ store, runId: run.id, log, spillDir: join(tmp, 'results') });
  // Measures how late a 5 ms timer fires while the embedded store ingests: PGlite must not run here.
  let worstLagMs = 0;
  let last = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    worstLagMs = Math.max(worstLagMs, now - last - 5);
    last = now;
  }, 5);
  for (let i = 0; i < 400; i++) {
    const b = new ResultBatchBuilder();
    for (let k = 0; k < 100; k++) b.add({ elapsed: i * 100 + k, epoch: 1, scriptrunTime: 0.5, error: k % 9 ? null : 'e\t"x"', customTimers: { a: k } });
    w.enqueue(b.build({ turretUuid: 'u', turretName: 't', seq: i + 1 }));
    if (i % 20 === 19) await new Promise((r) => setImmediate(r));
  }
  await w.drain(20_000);
  clearInterval(ticker);
  const [r] = await store.sql.query<{ n: number; e: number }>('SELECT count(*) AS n, count(error) AS e FROM results WHERE run_id = $1', [run.id]);
  assert.deepEqual(r, { n: 40_000, e: 4_800 });
  console.log(`# embedded ingest: worst event-loop delay ${worstLagMs.toFixed(1)} ms`);
  await w.close();
  await store.close();
});
