// The commands a test starts, each loadable without the others: every local turret is its own
// `oct turret` process, and importing every command (Kubernetes client, report templates, the
// store) cost about a second of each one's start-up, before the first shot. main.ts loads the
// full list (index.ts) for anything else, `oct --help` included.
import type { CommandModule } from 'yargs';

export const hotCommands: Record<string, () => Promise<CommandModule<any, any>>> = {
  turret: async () => (await import('./turret.ts')).turretCommand,
  run: async () => (await import('./run.ts')).runCommand,
  check: async () => (await import('./check.ts')).checkCommand,
};
