// The turret as a process: wires config, sockets, script loader and signals to a Turret, and
// resolves to the exit code. `oct turret` and tests (through the real binary) both run this.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/log.ts';
import { extractTurretTar, type LoadedTurretConfig, loadTurretConfigFile, packedDependencies, type TurretOverrides } from './config-file.ts';
import { loadTransactionClass } from './script-loader.ts';
import { connectTurretSockets } from './sockets.ts';
import { Turret } from './turret.ts';

export interface TurretProcessOptions extends TurretOverrides {
  config?: string;
  tar?: string;
  /** npm install the packed turret's dependencies (default: when it lists any). */
  install?: boolean;
  uuid?: string;
  clock: Clock;
  log: Logger;
}

async function installDependencies(dir: string, log: Logger): Promise<void> {
  const deps = packedDependencies(dir);
  if (Object.keys(deps).length === 0 || existsSync(join(dir, 'node_modules'))) return;
  log.warn('installing turret dependencies with npm', { dependencies: Object.keys(deps).join(',') });
  await promisify(execFile)('npm', ['install', '--no-audit', '--no-fund', '--omit=dev'], { cwd: dir });
}

/**
 * The HQ's address resolved once, at start. libzmq otherwise resolves the name on every reconnect,
 * in its I/O thread: when the HQ is gone and its name no longer resolves (a container network
 * after the HQ exited), that kept the turret from exiting for tens of seconds after SIGTERM. On
 * Kubernetes the name is a Service, whose IP does not change when the HQ pod restarts.
 */
async function resolveOnce(address: string, log: Logger): Promise<string> {
  if (isIP(address) || address.includes('://')) return address;
  try {
    const { address: ip } = await Promise.race([
      lookup(address),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timed out after 5 s')), 5000).unref()),
    ]);
    log.info('HQ address resolved', { name: address, ip });
    return ip;
  } catch (err) {
    log.warn('cannot resolve the HQ address now; ZeroMQ will keep trying the name', { name: address, error: err as Error });
    return address;
  }
}

export async function runTurretProcess(opts: TurretProcessOptions): Promise<number> {
  const log = opts.log;
  let loaded: LoadedTurretConfig;
  let cleanup = () => {};
  if (opts.tar) {
    const extracted = await extractTurretTar(opts.tar);
    cleanup = extracted.remove;
    try {
      if (opts.install !== false) await installDependencies(extracted.dir, log);
      loaded = loadTurretConfigFile(extracted.configPath, opts);
    } catch (err) {
      cleanup();
      throw err;
    }
  } else if (opts.config) {
    loaded = loadTurretConfigFile(opts.config, opts);
  } else {
    throw new Error('name a turret config (--config FILE) or a packed turret (--tar FILE)');
  }
  const uuid = opts.uuid ?? randomUUID();
  const { config } = loaded;
  const address = await resolveOnce(config.hq_address, log);
  const sockets = connectTurretSockets({ address, publisher: config.hq_publisher, rc: config.hq_rc }, uuid);
  const turret = new Turret({ config, uuid, sockets, loadScript: () => loadTransactionClass(loaded.scriptPath), clock: opts.clock, log });
  const onSignal = (signal: NodeJS.Signals) => {
    log.info('signal: stopping gracefully', { signal });
    void turret.shutdown(`received ${signal}`);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    return await turret.run();
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    cleanup();
  }
}
