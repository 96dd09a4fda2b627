import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile, stat, truncate } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { PostgresBinaries } from './binaries.js';
import { freeLoopbackPort } from './free-port.js';
import type { ServerUser } from './os-user.js';
import { findExecutable } from '../../process/find-executable.js';
import { isAlive, readPostmasterPid } from './postmaster.js';

/** Starting, probing and stopping the postgres process; where its files are is cluster.ts's business. */

const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;
const LOG_LIMIT_BYTES = 10 * 1024 * 1024;

export interface ServerFiles {
  pgdata: string;
  log: string;
  /** Held (flock) by the server and every one of its processes while it runs. */
  lock: string;
}

/** flock(1)'s answer when the lock is already held (-E); EX_TEMPFAIL, which postgres never uses. */
const LOCK_HELD_EXIT = 75;

/** Another server, out of this process's sight, runs on the same folder. */
export class ClusterInUse extends Error {}

/*
 * postmaster.pid only protects a folder within one pid namespace: a second container on the same
 * volume sees no live pid there, and postgres would start a second server on the same files. A
 * flock is kernel-wide and dies with the last process holding it, so postgres runs under
 * `flock -n`, which passes the locked descriptor on to the server and all its children. Where
 * flock(1) is missing (macOS), the folder is protected by postmaster.pid alone.
 */
function command(postgres: string, args: string[], lock: string): [string, string[]] {
  const flock = findExecutable('flock', process.env.PATH ?? '');
  if (!flock) return [postgres, args];
  return [flock, ['--nonblock', '--conflict-exit-code', String(LOCK_HELD_EXIT), lock, postgres, ...args]];
}

export async function tryConnect(url: string): Promise<Error | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
    return null;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Errors that mean "not accepting connections yet": refused, reset, or 57P03 (starting up). */
function notYet(error: Error): boolean {
  const code = (error as { code?: string }).code;
  return code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === '57P03' || /timeout|terminated/i.test(error.message);
}

export function adminUrl(url: string): string {
  const admin = new URL(url);
  admin.pathname = '/postgres';
  return admin.toString();
}

async function waitUntilReady(url: string, child: ChildProcess | null, logFile: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let exited = false;
  child?.once('exit', () => (exited = true));
  let last: Error | null = null;
  while (Date.now() < deadline) {
    last = await tryConnect(adminUrl(url));
    if (!last) return;
    if (exited || !notYet(last)) break;
    await sleep(50);
  }
  const tail = (await readFile(logFile, 'utf8').catch(() => '')).split('\n').slice(-15).join('\n');
  throw new Error(`The embedded PostgreSQL did not start (${last?.message ?? 'timeout'}). Its log (${logFile}):\n${tail}`);
}

async function waitForExit(pid: number, child: ChildProcess | null, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child ? child.exitCode !== null || child.signalCode !== null : !isAlive(pid)) return true;
    await sleep(25);
  }
  return false;
}

export async function stopServer(pid: number, child: ChildProcess | null): Promise<void> {
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return;
  }
  if (await waitForExit(pid, child, STOP_TIMEOUT_MS)) return;
  // Immediate shutdown: crash recovery replays the WAL at the next start, nothing committed is lost.
  process.kill(pid, 'SIGQUIT');
  await waitForExit(pid, child, 5_000);
}

/** The port is free when chosen, but another program may take it first: then try another. */
export async function spawnOnFreePort(
  binaries: PostgresBinaries,
  user: ServerUser,
  paths: ServerFiles,
  settings: string[],
  urlFor: (port: number) => string,
): Promise<{ child: ChildProcess; pid: number; url: string }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freeLoopbackPort();
    const logStat = await stat(paths.log).catch(() => null);
    if (logStat && logStat.size > LOG_LIMIT_BYTES) await truncate(paths.log, 0);
    const logSize = (await stat(paths.log).catch(() => null))?.size ?? 0;
    const fd = openSync(paths.log, 'a', 0o600);
    let child: ChildProcess;
    try {
      const args = ['-D', paths.pgdata, '-p', String(port), ...settings.flatMap((setting) => ['-c', setting])];
      const [file, argv] = command(binaries.postgres, args, paths.lock);
      child = spawn(file, argv, {
        // Its own process group: a Ctrl-C meant for the API must not stop the database under it
        // while the API is still handing back its jobs.
        detached: true,
        stdio: ['ignore', fd, fd],
        uid: user.uid,
        gid: user.gid,
      });
    } finally {
      closeSync(fd);
    }
    const url = urlFor(port);
    try {
      await waitUntilReady(url, child, paths.log);
      // Under flock, the child is the wrapper: signals go to the server itself.
      const pid = (await readPostmasterPid(paths.pgdata))?.pid ?? child.pid!;
      return { child, pid, url };
    } catch (error) {
      if (child.exitCode === LOCK_HELD_EXIT) {
        throw new ClusterInUse(
          `Another PostgreSQL server runs on ${paths.pgdata}, started by a process this one cannot see ` +
            '(another container or machine sharing the volume). Stop it, or give this one another DATA_DIR.',
        );
      }
      const log = (await readFile(paths.log, 'utf8').catch(() => '')).slice(logSize);
      if (attempt < 3 && /could not bind|address already in use/i.test(log)) continue;
      throw error;
    }
  }
}

