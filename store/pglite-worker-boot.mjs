// Worker entry: worker threads do not inherit the tsx loader that bin/oct.js registers, so the
// worker registers it itself before loading the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./pglite-worker.ts');
