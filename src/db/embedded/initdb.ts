import { spawn } from 'node:child_process';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { PostgresBinaries } from './binaries.js';
import { giveTo, type ServerUser } from './os-user.js';

export interface InitOptions {
  binaries: PostgresBinaries;
  user: ServerUser;
  pgdata: string;
  password: string;
  superuser: string;
  /** Written into the cluster folder before it is renamed into place, so the two never disagree. */
  passwordFile: string;
}

/**
 * initdb into a side folder, renamed into place only when complete: an interrupted first start
 * leaves nothing that looks like a cluster, and the next start simply tries again.
 */
export async function initialiseCluster({ binaries, user, pgdata, password, superuser, passwordFile }: InitOptions): Promise<void> {
  const partial = `${pgdata}.initdb`;
  const pwfile = `${pgdata}.pwfile`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { mode: 0o700 });
  await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  try {
    await giveTo(user, partial);
    await giveTo(user, pwfile);
    await run(binaries.initdb, [
      `--pgdata=${partial}`,
      `--username=${superuser}`,
      `--pwfile=${pwfile}`,
      '--auth=scram-sha-256',
      '--encoding=UTF8',
      // The builtin provider needs no OS locales, so the cluster starts the same on any machine.
      '--locale-provider=builtin',
      '--builtin-locale=C.UTF-8',
      '--locale=C',
      // One syncfs() of the file system instead of an fsync per file: the same durability, faster.
      '--sync-method=syncfs',
    ], user);
    await writeFile(path.join(partial, passwordFile), `${password}\n`, { mode: 0o600 });
  } catch (error) {
    await rm(partial, { recursive: true, force: true });
    throw error;
  } finally {
    await rm(pwfile, { force: true });
  }
  await rename(partial, pgdata);
}

function run(program: string, args: string[], user: ServerUser): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { uid: user.uid, gid: user.gid, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`initdb failed (exit ${code}): ${output.trim().split('\n').slice(-10).join('\n')}`));
    });
  });
}
