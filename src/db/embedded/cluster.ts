import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { initialiseCluster } from './initdb.js';
import { firstBlockedFolder, reachableBinaries, serverUser, type ServerUser } from './os-user.js';
import { postgresBinaries, EmbeddedPostgresUnavailable, type PostgresBinaries } from './binaries.js';
import { isAlive, isPostmasterOf, readPostmasterPid } from './postmaster.js';
import { adminUrl, spawnOnFreePort, stopServer, tryConnect } from './server-process.js';

export interface EmbeddedLog {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

export interface EmbeddedPostgres {
  /** postgres://… with the generated password, on 127.0.0.1. */
  url: string;
  /** True when this start created the cluster (first run). */
  initialised: boolean;
  /** True when a server left running by a process that died was taken over instead of restarted. */
  adopted: boolean;
  /** Fast shutdown (SIGINT); resolves once the server has exited. */
  stop(): Promise<void>;
}

export const DATABASE_NAME = 'transcribo';
const SUPERUSER = 'postgres';

/** Everything the embedded server keeps lives in DATA_DIR/pg. */
export function clusterPaths(dataDir: string) {
  const pgdata = path.join(dataDir, 'pg');
  return {
    pgdata,
    password: path.join(pgdata, 'transcribo.password'),
    owner: path.join(pgdata, 'transcribo.owner'),
    lock: path.join(pgdata, 'transcribo.lock'),
    log: path.join(pgdata, 'server.log'),
  };
}

/*
 * Sized for a laptop: a small buffer pool, no parallel or I/O worker processes, no replication,
 * no Unix socket (its path length limit breaks deep DATA_DIRs), loopback only.
 */
const SERVER_SETTINGS = [
  'listen_addresses=127.0.0.1',
  'unix_socket_directories=',
  'shared_buffers=32MB',
  'max_connections=100',
  'io_method=sync',
  'max_worker_processes=4',
  'max_parallel_workers=0',
  'max_parallel_workers_per_gather=0',
  'wal_level=minimal',
  'max_wal_senders=0',
  'jit=off',
];

function urlFor(port: number, password: string, host = '127.0.0.1'): string {
  return `postgres://${SUPERUSER}:${encodeURIComponent(password)}@${host}:${port}/${DATABASE_NAME}`;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(() => true, () => false);
}

/** The process (API) that owns a running server: it stops the server when it stops. */
async function ownerOf(file: string): Promise<number | null> {
  const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

async function ensureCluster(dataDir: string, user: ServerUser, binaries: PostgresBinaries, log: EmbeddedLog) {
  const paths = clusterPaths(dataDir);
  if (await exists(path.join(paths.pgdata, 'PG_VERSION'))) {
    return { password: (await readFile(paths.password, 'utf8')).trim(), initialised: false };
  }
  if (await exists(paths.pgdata)) {
    throw new Error(`${paths.pgdata} exists but holds no PostgreSQL cluster; move it away and start again`);
  }
  const password = randomBytes(24).toString('hex');
  const started = Date.now();
  await initialiseCluster({
    binaries,
    user,
    pgdata: paths.pgdata,
    password,
    superuser: SUPERUSER,
    passwordFile: path.basename(paths.password),
  });
  log.info({ pgdata: paths.pgdata, ms: Date.now() - started, version: binaries.version }, 'embedded PostgreSQL initialised');
  return { password, initialised: true };
}

/**
 * Starts (or, after a kill -9 of its owner, adopts) the PostgreSQL server in DATA_DIR/pg,
 * initialising it on first use. Never runs two servers on one folder: postgres itself refuses,
 * and a live owner makes this call fail with a message instead.
 */
export async function startEmbeddedPostgres(dataDir: string, log: EmbeddedLog): Promise<EmbeddedPostgres> {
  await mkdir(dataDir, { recursive: true });
  const user = serverUser();
  const blocked = firstBlockedFolder(user, dataDir);
  if (blocked) {
    throw new EmbeddedPostgresUnavailable(
      `running as root, the server runs as the user '${user.name}', who cannot enter ${blocked} on the way to ` +
        `DATA_DIR (${dataDir}); allow it (chmod o+x ${blocked}), choose another DATA_DIR (e.g. /var/lib/transcribo), ` +
        'or run Transcribo as an ordinary user',
    );
  }
  const binaries = await reachableBinaries(user, await postgresBinaries());
  const paths = clusterPaths(dataDir);
  const { password, initialised } = await ensureCluster(dataDir, user, binaries, log);

  const running = await readPostmasterPid(paths.pgdata);
  if (running && isPostmasterOf(running.pid, paths.pgdata)) {
    const owner = await ownerOf(paths.owner);
    if (owner !== null && owner !== process.pid && isAlive(owner)) {
      throw new Error(
        `Another Transcribo process (pid ${owner}) runs the embedded PostgreSQL in ${paths.pgdata}. ` +
          'Stop it, or give this one another DATA_DIR (npm run worker can share it).',
      );
    }
    const url = urlFor(running.port, password, running.host);
    const problem = await tryConnect(url);
    if (!problem) {
      log.warn({ pid: running.pid, port: running.port }, 'adopted the embedded PostgreSQL left running by a process that died');
      return own(paths.owner, url, running.pid, null, { initialised, adopted: true });
    }
    log.warn({ pid: running.pid, err: problem.message }, 'stopping an embedded PostgreSQL that does not answer');
    await stopServer(running.pid, null);
  }

  const { child, pid, url } = await spawnOnFreePort(binaries, user, paths, SERVER_SETTINGS, (port) => urlFor(port, password));
  await createDatabase(url);
  log.info({ pid, port: new URL(url).port, pgdata: paths.pgdata }, 'embedded PostgreSQL started');
  return own(paths.owner, url, pid, child, { initialised, adopted: false });
}

async function createDatabase(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl(url) });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [DATABASE_NAME]);
    if (found.rowCount === 0) await client.query(`create database ${DATABASE_NAME}`);
  } finally {
    await client.end();
  }
}

async function own(
  ownerFile: string,
  url: string,
  pid: number,
  child: ChildProcess | null,
  flags: { initialised: boolean; adopted: boolean },
): Promise<EmbeddedPostgres> {
  await writeFile(ownerFile, `${process.pid}\n`);
  // A crash or process.exit() must not leave the server behind; kill -9 can, and the next start adopts it.
  const onExit = () => {
    try {
      process.kill(pid, 'SIGINT');
    } catch {
      // already gone
    }
  };
  process.once('exit', onExit);
  let stopping: Promise<void> | null = null;
  return {
    url,
    ...flags,
    stop: () => {
      stopping ??= (async () => {
        process.removeListener('exit', onExit);
        await stopServer(pid, child);
        await rm(ownerFile, { force: true });
      })();
      return stopping;
    },
  };
}

/**
 * For `npm run worker` beside an embedded API: the server the API started in the same DATA_DIR.
 */
export async function findEmbeddedPostgres(dataDir: string): Promise<string> {
  const paths = clusterPaths(dataDir);
  const running = await readPostmasterPid(paths.pgdata);
  if (!running || !isAlive(running.pid)) {
    throw new Error(
      `No embedded PostgreSQL is running in ${paths.pgdata}: start the API first (npm start) with the same DATA_DIR, ` +
        'or set DATABASE_URL',
    );
  }
  const password = (await readFile(paths.password, 'utf8')).trim();
  return urlFor(running.port, password, running.host);
}

