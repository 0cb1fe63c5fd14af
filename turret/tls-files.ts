// The turret's TLS settings from its config's `http.tls`: files read once, before the test, so a
// missing CA, or a key that is not a key, is a clear error at start rather than a failed request
// per iteration.
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { resolve } from 'node:path';
import type { Logger } from '../common/log.ts';
import { ConfigError, type HttpConfig } from '../protocol/config.ts';
import type { AgentTls } from './http-client.ts';

export function readTls(http: HttpConfig, baseDir: string, log: Logger, source: string): AgentTls | undefined {
  const tls = http.tls;
  if (!tls) return undefined;
  const read = (key: string, file: string | undefined) => {
    if (file === undefined) return undefined;
    const path = resolve(baseDir, file);
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError(source, [`http.tls.${key}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
    }
  };
  if (tls.insecure_skip_verify)
    // Once, at start, where every log reader sees it: a man in the middle would go unnoticed.
    log.warn(
      'WARNING: http.tls.insecure_skip_verify is on: server certificates are NOT verified; any server can pose as the target. Use it only against a test server you control',
    );
  const settings: AgentTls = {
    ca: read('ca_file', tls.ca_file),
    cert: read('cert_file', tls.cert_file),
    key: read('key_file', tls.key_file),
    rejectUnauthorized: !tls.insecure_skip_verify,
  };
  // What every connection would do with them: PEM that does not parse, a key without its
  // certificate or one that is not the certificate's, refused here once.
  if ((settings.cert === undefined) !== (settings.key === undefined)) {
    throw new ConfigError(source, [
      `http.tls: ${settings.cert === undefined ? 'key_file needs cert_file' : 'cert_file needs key_file'} (a client certificate is the pair)`,
    ]);
  }
  // Node takes a CA file without one certificate in it silently, and then trusts nothing.
  if (settings.ca !== undefined && !settings.ca.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError(source, [`http.tls.ca_file: ${tls.ca_file} holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`]);
  }
  try {
    createSecureContext({ ca: settings.ca, cert: settings.cert, key: settings.key });
  } catch (err) {
    const files = [tls.ca_file && `ca_file ${tls.ca_file}`, tls.cert_file && `cert_file ${tls.cert_file}`, tls.key_file && `key_file ${tls.key_file}`]
      .filter(Boolean)
      .join(', ');
    throw new ConfigError(source, [`http.tls: ${files} cannot be used: ${(err as Error).message}`]);
  }
  return settings;
}
