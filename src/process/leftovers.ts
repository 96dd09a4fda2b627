/**
 * Temp files and folders named after the process that owns them, so that what a dead process left
 * behind (a kill -9, an OOM kill, a power cut: no `finally` ran) can be told from what a live one
 * is using, and removed at the next start. Processes sharing the folder (an API and its workers)
 * leave each other's alone while their owner lives.
 */
import { randomUUID } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';

export interface TempKind {
  /** Start of every name: `${prefix}${pid}-…`. */
  prefix: string;
  /** Names from before the pid was part of them; their owner cannot be known, so they go too. */
  legacy: RegExp;
}

/** A transcription job's folder (its source file and decoded WAV) in the system temp folder. */
export const JOB_TEMP: TempKind = { prefix: 'transcribo-job-', legacy: /^transcribo-job-[A-Za-z0-9]{6}$/ };
/** An upload being received, in the upload staging folder. */
export const UPLOAD_TEMP: TempKind = { prefix: 'upload-', legacy: /^[0-9a-f]{8}-[0-9a-f-]{27}\.upload$/ };

/** This process's prefix: for mkdtemp, or to name a file with ownedName. */
export function ownedPrefix(kind: TempKind): string {
  return `${kind.prefix}${process.pid}-`;
}

export function ownedName(kind: TempKind): string {
  return `${ownedPrefix(kind)}${randomUUID()}`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid in a name of `kind`, null for a legacy name, undefined for a name that is not ours. */
function ownerOf(name: string, kind: TempKind): number | null | undefined {
  if (kind.legacy.test(name)) return null;
  if (!name.startsWith(kind.prefix)) return undefined;
  const match = /^(\d+)-./.exec(name.slice(kind.prefix.length));
  return match ? Number(match[1]) : undefined;
}

/** Removes the entries of `kind` in `dir` whose owner is dead (or unknown); returns their names. */
export async function removeLeftovers(dir: string, kind: TempKind): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const removed: string[] = [];
  for (const name of names) {
    const owner = ownerOf(name, kind);
    if (owner === undefined || (owner !== null && (owner === process.pid || isAlive(owner)))) continue;
    await rm(path.join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}
