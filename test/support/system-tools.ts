// The system programs the tests run, each with the Debian package that provides it, so a test
// that cannot run says exactly what to install (scripts/install-system-deps.sh installs them all).
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface SystemTool {
  /** A program name looked up on PATH, or an absolute path. */
  bin: string;
  /** The Debian package that provides it. */
  pkg: string;
  /** Why the tests need it, for the message. */
  why?: string;
}

// podman's own helpers are not on PATH; netavark calls iptables for every bridge network, and
// Debian's netavark does not depend on it.
export const PODMAN_TOOLS: SystemTool[] = [
  { bin: 'podman', pkg: 'podman' },
  { bin: 'buildah', pkg: 'buildah' },
  { bin: 'runc', pkg: 'runc' },
  { bin: '/usr/lib/podman/netavark', pkg: 'netavark', why: 'podman networks' },
  { bin: '/usr/lib/podman/aardvark-dns', pkg: 'aardvark-dns', why: 'container names in DNS' },
  { bin: 'iptables', pkg: 'iptables', why: 'netavark sets up bridge networks with it' },
  { bin: 'fuse-overlayfs', pkg: 'fuse-overlayfs', why: 'overlay mounts in the image build' },
  // Debian 12's server binaries make the Postgres image (test/k8s/make-postgres-image.sh).
  { bin: '/usr/lib/postgresql/15/bin/postgres', pkg: 'postgresql', why: 'the Postgres image of the podman tests' },
];

const EXTRA_PATH = ['/usr/sbin', '/sbin', '/usr/local/sbin'];

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function findTool(bin: string): string | null {
  if (bin.startsWith('/')) return executable(bin) ? bin : null;
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), ...EXTRA_PATH]) {
    if (dir && executable(join(dir, bin))) return join(dir, bin);
  }
  return null;
}

/** null when every tool is there, else one line naming each missing program and its package. */
export function missingTools(tools: SystemTool[]): string | null {
  const missing = tools.filter((t) => findTool(t.bin) === null);
  if (!missing.length) return null;
  const names = missing.map((t) => `${t.bin} (Debian package ${t.pkg}${t.why ? `: ${t.why}` : ''})`).join(', ');
  return `missing ${names}; run scripts/install-system-deps.sh or apt-get install ${[...new Set(missing.map((t) => t.pkg))].join(' ')}`;
}
