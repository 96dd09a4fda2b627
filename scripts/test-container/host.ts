/**
 * The machine side of the container test: podman and its settings (../shared/CONTAINERS.md's
 * recipe for machines that reach Debian's and npm's servers but no image registry).
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { log, run } from './exec.js';

// debian-archive-keyring: debootstrap checks Debian's signatures with it (already there on Debian).
// The dnsname CNI plugin: without it (it is only a recommendation of nothing), Debian's podman
// gives compose networks no DNS, and services cannot reach each other by name (db, redis).
const PACKAGES = [
  'podman',
  'runc',
  'podman-compose',
  'debootstrap',
  'debian-archive-keyring',
  'golang-github-containernetworking-plugin-dnsname',
];
const CONTAINERS_CONF = '/etc/containers/containers.conf';
/*
 * Root here lacks CAP_SYS_RESOURCE, so podman's default rlimits are refused; the cgroup layout is
 * hybrid, which crun refuses. Without these two settings every container fails to start.
 */
const CONTAINERS_CONF_TEXT = `[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
`;

export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error('npm run test:container installs packages and runs podman as root: run it as root (CI does)');
  }
}

async function installed(pkg: string): Promise<boolean> {
  const result = await run('dpkg-query', ['-W', '-f=${Status}', pkg], { allowFailure: true });
  return result.code === 0 && result.stdout.includes('install ok installed');
}

/** apt-get install of what is missing; waits for another apt run (a parallel CI step) to finish. */
export async function ensurePackages(): Promise<void> {
  const missing: string[] = [];
  for (const pkg of PACKAGES) if (!(await installed(pkg))) missing.push(pkg);
  if (missing.length > 0) {
    log(`installing ${missing.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const lock = ['-o', 'DPkg::Lock::Timeout=600'];
    await run('apt-get', [...lock, 'update', '-qq'], { env });
    await run('apt-get', [...lock, 'install', '-y', '-qq', '--no-install-recommends', ...missing], { env });
  }
  let current = '';
  try {
    current = readFileSync(CONTAINERS_CONF, 'utf8');
  } catch {
    // absent: written below
  }
  if (current !== CONTAINERS_CONF_TEXT) {
    if (current) log(`replacing ${CONTAINERS_CONF} (runc and rlimits this machine allows)`);
    mkdirSync('/etc/containers', { recursive: true });
    writeFileSync(CONTAINERS_CONF, CONTAINERS_CONF_TEXT);
  }
}

/** A TCP port free on this machine now (the kernel's pick), for a container's published port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
