#!/usr/bin/env node
// oct runs from its TypeScript sources through tsx, the same loader that loads users' transaction
// scripts: one toolchain, no build step to forget, no stale dist/.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
