// oct's own version, from oct's package.json (not the project's: commands run from anywhere).
import { readFileSync } from 'node:fs';

export function octVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? 'dev';
  } catch {
    return 'dev';
  }
}
