// Worker entry: worker threads do not inherit the tsx loader that bin/oct.js may have registered,
// so the worker loads oct's compiled build when it is current (bin/compiled.mjs), and otherwise
// registers tsx itself before loading the TypeScript worker.
import { compiledBuild, entryUrl } from '../bin/compiled.mjs';

const build = await compiledBuild({ mayBuild: false });
if (build) {
  await import(entryUrl(build, 'store/pglite-worker.ts'));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./pglite-worker.ts');
}
