// The embedded store's template: built once, migrated, keyed by the migrations (a changed schema
// never reuses an old template), and handed to the next new data directory as a spare rename.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { memoryLogger } from '../common/log.ts';
import { openEmbeddedStore } from './embedded.ts';
import { isDataDir, makeSpare, spareDirOf, templateDirFor } from './pglite-template.ts';
import { MIGRATIONS } from './schema.ts';

const tmp = mkdtempSync(join(tmpdir(), 'oct-template-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('the template name changes with the migrations and with nothing else', () => {
  assert.equal(templateDirFor(MIGRATIONS, tmp), templateDirFor([...MIGRATIONS], tmp));
  assert.notEqual(templateDirFor(MIGRATIONS, tmp), templateDirFor([...MIGRATIONS, 'ALTER TABLE runs ADD COLUMN x int'], tmp));
  assert.notEqual(templateDirFor(['a', 'b'], tmp), templateDirFor(['a\0b'], tmp));
});

test('a new store starts from the migrated template (no migration applied), then from its spare', async () => {
  const templateDir = join(tmp, 'template');
  const first = memoryLogger('info');
  const a = await openEmbeddedStore(join(tmp, 'a'), first, { templateDir });
  await a.migrate();
  await a.close();
  assert.ok(isDataDir(templateDir), 'the template was built');
  assert.equal(first.lines.filter((l) => l.includes('applied migration')).length, MIGRATIONS.length, 'into the template, once');
  // The spare is made in the background: wait for it as the next run would find it.
  await makeSpare(templateDir);
  assert.ok(isDataDir(spareDirOf(templateDir)));

  const second = memoryLogger('info');
  const b = await openEmbeddedStore(join(tmp, 'b'), second, { templateDir });
  await b.migrate();
  const rows = await b.sql.query<{ version: number }>('SELECT version FROM oct_schema_migrations ORDER BY version');
  assert.deepEqual(
    rows.map((r) => Number(r.version)),
    MIGRATIONS.map((_, i) => i + 1),
  );
  assert.ok(!second.lines.some((l) => l.includes('applied migration')), second.lines.join('\n'));
  assert.match(second.lines.join('\n'), /embedded database ready .*fromTemplate=spare/);
  assert.ok(!existsSync(spareDirOf(templateDir)) || isDataDir(spareDirOf(templateDir)), 'a spare is whole or absent');
  // The run's data are its own: the template is untouched by what the store writes.
  await b.createRun({ name: 'mine', config: {}, hqId: null });
  await b.close();
  const c = await openEmbeddedStore(join(tmp, 'c'), memoryLogger(), { templateDir });
  assert.deepEqual(await c.listRuns(), []);
  await c.close();
});
