import { execFileSync, spawnSync } from 'node:child_process';
import { chown, cp, readdir, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { PostgresBinaries } from './binaries.js';
import { EmbeddedPostgresUnavailable } from './binaries.js';

/** Who the database server runs as: this process's user, or an unprivileged one when we are root. */
export interface ServerUser {
  uid?: number;
  gid?: number;
  name: string;
}

/** initdb and postgres refuse to run as root, which is how containers and CI run us. */
export const SERVER_USER_NAME = 'postgres';

function idOf(flag: '-u' | '-g', name: string): number | null {
  const result = spawnSync('id', [flag, name], { encoding: 'utf8' });
  return result.status === 0 ? Number(result.stdout.trim()) : null;
}

/**
 * As root, the server runs as the `postgres` user, created (as a system account with no login
 * shell) when the machine has none; otherwise it runs as whoever runs Transcribo.
 */
export function serverUser(): ServerUser {
  if (process.getuid?.() !== 0) return { name: 'current user' };
  if (idOf('-u', SERVER_USER_NAME) === null) {
    try {
      execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', SERVER_USER_NAME], {
        stdio: 'pipe',
      });
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw new EmbeddedPostgresUnavailable(
        `running as root, PostgreSQL needs an unprivileged user, and creating '${SERVER_USER_NAME}' failed (${why}); ` +
          `create it yourself (useradd --system ${SERVER_USER_NAME}) or run Transcribo as another user`,
      );
    }
  }
  const uid = idOf('-u', SERVER_USER_NAME);
  const gid = idOf('-g', SERVER_USER_NAME);
  if (uid === null || gid === null) throw new EmbeddedPostgresUnavailable(`the user '${SERVER_USER_NAME}' has no uid`);
  return { uid, gid, name: SERVER_USER_NAME };
}

/** True when `user` can use `target` the way `test` checks it (-x: enter or run, -w: write). */
export function canAccess(user: ServerUser, check: '-x' | '-w', target: string): boolean {
  if (user.uid === undefined) return true;
  return spawnSync('test', [check, target], { uid: user.uid, gid: user.gid }).status === 0;
}

/** The outermost folder on the way to `dir` that `user` cannot enter, or null when it can reach it. */
export function firstBlockedFolder(user: ServerUser, dir: string): string | null {
  if (canAccess(user, '-x', dir)) return null;
  const parts = path.resolve(dir).split(path.sep).filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const folder = path.sep + parts.slice(0, i).join(path.sep);
    if (!canAccess(user, '-x', folder)) return folder;
  }
  return dir;
}

/**
 * Under /root (a home folder only root may enter) the server user cannot run the binaries that
 * npm installed; a copy in the system temp folder, made once per version, can.
 */
export async function reachableBinaries(user: ServerUser, binaries: PostgresBinaries): Promise<PostgresBinaries> {
  if (canAccess(user, '-x', binaries.postgres)) return binaries;
  const root = path.join(tmpdir(), `transcribo-postgres-${binaries.version}`);
  const copied = { ...binaries, root, postgres: path.join(root, 'bin', 'postgres'), initdb: path.join(root, 'bin', 'initdb') };
  const complete = await stat(path.join(root, 'share')).then(() => true, () => false);
  if (!complete || !canAccess(user, '-x', copied.postgres)) {
    await cp(binaries.root, `${root}.partial-${process.pid}`, { recursive: true, verbatimSymlinks: true });
    await rm(root, { recursive: true, force: true });
    await rename(`${root}.partial-${process.pid}`, root);
  }
  if (!canAccess(user, '-x', copied.postgres)) {
    throw new EmbeddedPostgresUnavailable(`the user '${user.name}' cannot run ${copied.postgres}`);
  }
  return copied;
}

/** Hands a file, or a folder and everything in it, to the server user. */
export async function giveTo(user: ServerUser, target: string): Promise<void> {
  if (user.uid === undefined || user.gid === undefined) return;
  await chown(target, user.uid, user.gid);
  if (!(await stat(target)).isDirectory()) return;
  for (const entry of await readdir(target)) await giveTo(user, path.join(target, entry));
}
