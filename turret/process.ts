// The turret as a process: wires config, sockets, script loader and signals to a Turret, and
// resolves to the exit code. `oct turret` and tests (through the real binary) both run this.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/log.ts';
import { readTls } from './tls-files.ts';
import { extractTurretTar, type LoadedTurretConfig, loadTurretConfigFile, packedDependencies, type TurretOverrides } from './config-file.ts';
import { loadTransactionClass } from './script-loader.ts';
import { connectTurretSockets } from './sockets.ts';
import { readTurretKeys } from '../common/keys-dir.ts';
import { Turret } from './turret.ts';
import { canonShare } from './workers.ts';

export interface TurretProcessOptions extends TurretOverrides {
  config?: string;
  tar?: string;
  /** npm install the packed turret's dependencies (default: when it lists any). */
  install?: boolean;
  uuid?: string;
  /** Worker `index` of `count` (`--workers`): runs that share of the canons, under its own uuid. */
  worker?: { index: number; count: number };
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
  const { config } = loaded;
  const uuid = opts.uuid && opts.worker ? `${opts.uuid}-${opts.worker.index}` : (opts.uuid ?? randomUUID());
  if (opts.worker) {
    config.canons = canonShare(config.canons, opts.worker.index, opts.worker.count);
    if (config.max_canons !== undefined) config.max_canons = Math.max(1, canonShare(config.max_canons, opts.worker.index, opts.worker.count));
    if (config.canons === 0) {
      log.warn('more workers than canons: this worker has none and exits', { worker: `${opts.worker.index}/${opts.worker.count}` });
      cleanup();
      return 0;
    }
  }
  let curve: ReturnType<typeof readTurretKeys> | undefined;
  try {
    // A packed turret's keys travel in its tar: keys_dir is relative to the config that names it.
    curve = config.keys_dir === undefined ? undefined : readTurretKeys(resolve(loaded.baseDir, config.keys_dir));
  } catch (err) {
    cleanup();
    throw err;
  }
  if (!curve) log.warn('no keys_dir: connecting without CURVE (an HQ that requires it refuses this turret)');
  const tls = readTls(config.http, loaded.baseDir, log, opts.tar ?? opts.config ?? 'turret config');
  const address = await resolveOnce(config.hq_address, log);
  const sockets = connectTurretSockets({ address, publisher: config.hq_publisher, rc: config.hq_rc }, uuid, { curve });
  const turret = new Turret({ config, uuid, sockets, loadScript: () => loadTransactionClass(loaded.scriptPath), clock: opts.clock, log, tls });
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
