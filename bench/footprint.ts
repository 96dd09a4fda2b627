/**
 * Start-up time and idle memory of the built API (dist/server.js): time from spawn to the first
 * 200 from the liveness route on an empty DATA_DIR (and empty database) and again on the same,
 * now initialised, data; then 100 authenticated requests, a pause, and the resident memory of the
 * API process and of all its descendants (an embedded PostgreSQL server runs as children). Also
 * the time to ready through scripts/start.js (what `npm start` runs) on the initialised data.
 *
 * Modes: 'postgres' (a throwaway database on TEST_DATABASE_URL's server) and 'embedded' (no
 * DATABASE_URL: whatever the default database is). A mode whose server does not start is
 * reported as skipped rather than failing the run. Goal: API idle RSS ≤ 100 MB.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { memoryOf, register, ROOT, startBuiltServer, writeResult, type BenchServer } from './lib.js';

const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REQUESTS = 100;
/** Long enough for the request burst's garbage to be collected and sockets to close. */
const SETTLE_MS = 3_000;
const GOAL_API_RSS_MB = 100;
const MB = 2 ** 20;
const round = (n: number) => Math.round(n * 10) / 10;

/** Every process whose parent chain leads to `root`, from /proc/<pid>/stat's ppid. */
function descendantsOf(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    // The command name (field 2) may hold spaces and parentheses; ppid is the 2nd field after it.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

function rssOf(pid: number): number {
  try {
    return memoryOf(pid).rss;
  } catch {
    return 0; // exited while we looked
  }
}

/**
 * Proportional set size: shared pages divided among the processes sharing them. PostgreSQL's
 * processes all map its shared buffers, so the sum of their RSS counts those several times.
 */
function pssOf(pid: number): number {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    return Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

async function traffic(server: BenchServer): Promise<void> {
  const token = await register(server.base);
  const paths = ['/api/v1/audio/', '/api/v1/auth/me', '/api/v1/chat/sessions', '/api/v1/webhooks/', '/api/v1/audio/?limit=5'];
  // register is the first of the REQUESTS.
  for (let i = 1; i < REQUESTS; i++) {
    const res = await fetch(`${server.base}${paths[i % paths.length]}`, { headers: { authorization: `Bearer ${token}` } });
    if (res.status !== 200) throw new Error(`${paths[i % paths.length]}: ${res.status} ${await res.text()}`);
  }
}

/** `npm start` without npm: only meaningful when dist/ is current, or it would time a compilation. */
async function startScriptReadyMs(env: Record<string, string>, dataDir: string): Promise<number | string> {
  const check = spawnSync(process.execPath, ['scripts/build.js', '--check'], { cwd: ROOT, encoding: 'utf8' });
  if (check.status !== 0) {
    const why = check.stdout.trim() || check.stderr.trim().split('\n')[0];
    return `not measured: ${why} (run npm run build)`;
  }
  const server = await startBuiltServer(env, { dataDir, entry: 'scripts/start.js' });
  await server.stop();
  return Math.round(server.readyMs);
}

async function measure(mode: string, env: Record<string, string>): Promise<Record<string, unknown>> {
  const first = await startBuiltServer(env);
  await first.stop();
  const second = await startBuiltServer(env, { dataDir: first.dataDir });
  let idle: Record<string, unknown>;
  try {
    await traffic(second);
    await sleep(SETTLE_MS);
    const pid = second.proc.pid!;
    const api = rssOf(pid);
    const descendants = descendantsOf(pid);
    const children = descendants.reduce((sum, child) => sum + rssOf(child), 0);
    const childrenPss = descendants.reduce((sum, child) => sum + pssOf(child), 0);
    idle = {
      requests: REQUESTS,
      api_rss_mb: round(api / MB),
      descendant_processes: descendants.length,
      descendants_rss_mb: round(children / MB),
      descendants_pss_mb: round(childrenPss / MB),
      total_rss_mb: round((api + children) / MB),
      total_pss_mb: round((pssOf(pid) + childrenPss) / MB),
    };
  } finally {
    await second.stop();
  }
  const startScriptMs = await startScriptReadyMs(env, first.dataDir).finally(() =>
    // An embedded database's files are tens of MB; every server on them has stopped by now.
    rmSync(first.dataDir, { recursive: true, force: true }),
  );
  return {
    mode,
    first_start_ready_ms: Math.round(first.readyMs),
    second_start_ready_ms: Math.round(second.readyMs),
    start_script_ready_ms: startScriptMs,
    ...idle,
  };
}

async function admin(query: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(query);
  } finally {
    await client.end();
  }
}

async function postgresMode(): Promise<Record<string, unknown>> {
  const name = `transcribo_footprint_${randomBytes(6).toString('hex')}`;
  await admin(`create database ${name}`);
  try {
    const url = new URL(ADMIN_URL);
    url.pathname = `/${name}`;
    return await measure('postgres', { DATABASE_URL: url.toString() });
  } finally {
    await admin(`drop database if exists ${name} with (force)`);
  }
}

const modes: Array<[string, () => Promise<Record<string, unknown>>]> = [
  ['postgres', postgresMode],
  ['embedded', () => measure('embedded', {})],
];
const results: Array<Record<string, unknown>> = [];
for (const [mode, run] of modes) {
  try {
    results.push(await run());
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    console.warn(`footprint: skipping the ${mode} mode: ${reason}`);
    results.push({ mode, skipped: reason });
  }
}
writeResult('footprint', { goal_api_rss_mb: GOAL_API_RSS_MB, settle_ms: SETTLE_MS, modes: results });
