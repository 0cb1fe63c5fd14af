#!/usr/bin/env node
// oct runs from its TypeScript sources: compiled into a cached build when they are unchanged
// (bin/compiled.mjs: start-up without the TypeScript loader), else through tsx, the same loader
// that loads users' transaction scripts. One toolchain, no build step to forget, no stale dist/.
import { compiledBuild, entryUrl } from './compiled.mjs';

const build = await compiledBuild();
let main;
if (build) {
  ({ main } = await import(entryUrl(build, 'cli/main.ts')));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../cli/main.ts'));
}
process.exitCode = await main(process.argv.slice(2));
