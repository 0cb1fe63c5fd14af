// A self-signed certificate for 127.0.0.1, made by the system's openssl for one test (Debian's
// `openssl`, which scripts/install-system-deps.sh installs). It is its own CA: trusting the cert
// is trusting the server.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCert {
  dir: string;
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

export function makeSelfSignedCert(cn = '127.0.0.1'): TestCert {
  const dir = mkdtempSync(join(tmpdir(), 'oct-tls-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      `subjectAltName=IP:${cn}`,
    ],
    { stdio: 'pipe' },
  );
  return { dir, certFile, keyFile, cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
}
