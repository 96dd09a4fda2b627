import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** What a running server wrote into its data folder (PostgreSQL's postmaster.pid). */
export interface PostmasterInfo {
  pid: number;
  port: number;
  host: string;
}

/** Reads DATA/postmaster.pid: line 1 the pid, line 4 the port, line 6 the first listen address. */
export async function readPostmasterPid(pgdata: string): Promise<PostmasterInfo | null> {
  let text: string;
  try {
    text = await readFile(path.join(pgdata, 'postmaster.pid'), 'utf8');
  } catch {
    return null;
  }
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || port <= 0) return null;
  const host = (lines[5] ?? '').trim().split(/[\s,]/)[0] || '127.0.0.1';
  return { pid, port, host: host === '*' || host === '0.0.0.0' ? '127.0.0.1' : host };
}

/** True while a process with this pid exists (EPERM means it exists under another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A pid can be reused after a reboot; where /proc exists, make sure it is a postgres server for
 * this very folder before adopting or stopping it. Elsewhere, trust the pid file.
 */
export function isPostmasterOf(pid: number, pgdata: string): boolean {
  if (!isAlive(pid)) return false;
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return process.platform !== 'linux';
  }
  const args = cmdline.split('\0');
  return path.basename(args[0] ?? '') === 'postgres' && args.includes(pgdata);
}
