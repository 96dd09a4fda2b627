/**
 * Authenticated list: Transcribo's GET /api/v1/audio/?limit=20 against hand-written ceilings that do
 * the same work per request with Fastify + pg + jose and nothing else (verify the JWT, set the RLS
 * user and role, select 21 rows, answer 20 and a cursor). "4rt" spends four round trips (begin,
 * set_config, select, commit); "1rt" sends the scope and the select as one simple-query message.
 * Goals: Transcribo ≥ 1.2 × 4rt at 64 connections; p99 ≤ 50 ms at 16.
 *
 * Needs a built server (npx tsc -p tsconfig.build.json) and PostgreSQL; a throwaway database is
 * created on BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres) and dropped.
 * The ceilings are bench/list-ceiling-server.ts, one process each, as Transcribo is one process.
 * BENCH_COMPARE=label=dist/server.js,… also measures other builds (e.g. main's), interleaved with the
 * rest, so before and after share the same noise. BENCH_SECONDS and BENCH_ROUNDS size the run.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { median, register, ROOT, startBuiltServer, writeResult } from './lib.js';

const POOL_SIZE = 10;
const CEILING = path.join(ROOT, 'bench', 'list-ceiling-server.ts');
type Variant = '4rt' | '1rt';
interface Server { base: string; pid: number; stop(): Promise<void> }
interface PageBody { items: { id: string }[]; next_cursor: string | null }

/** A server process on 127.0.0.1:port, once `healthPath` answers. */
async function startProcess(args: string[], env: Record<string, string>, port: number, healthPath: string): Promise<Server> {
  const proc = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  let exited = false;
  proc.once('exit', () => (exited = true));
  let live = false;
  for (let i = 0; i < 300 && !live && !exited; i++) {
    live = await fetch(`${base}${healthPath}`).then((r) => r.ok, () => false);
    if (!live) await sleep(100);
  }
  if (!live) {
    proc.kill('SIGKILL');
    throw new Error(`${args.join(' ')} did not start`);
  }
  return {
    base,
    pid: proc.pid!,
    stop: async () => {
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000).then(() => proc.kill('SIGKILL'))]);
    },
  };
}

const randomPort = () => 20_000 + Math.floor(Math.random() * 20_000);

function startCeiling(variant: Variant, env: Record<string, string>): Promise<Server> {
  const port = randomPort();
  return startProcess(['--import', 'tsx', CEILING, variant, String(port)], env, port, '/health');
}

/** Another build's dist/server.js (BENCH_COMPARE), set up as bench/lib.ts sets up ours. */
function startOtherBuild(serverJs: string, env: Record<string, string>): Promise<Server> {
  const port = randomPort();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'transcribo-bench-data-'));
  const limits = { RATE_LIMIT_MAX: '100000', AUTH_RATE_LIMIT_MAX: '100000' };
  const serverEnv = { HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', DATA_DIR: dataDir, ...limits, ...env };
  return startProcess([serverJs], serverEnv, port, '/api/v1/health/liveness');
}

/** The part of autocannon's programmatic API used here (it ships no types). */
interface Histogram { average: number; p50: number; p99: number }
interface CannonResult { requests: Histogram & { total: number }; latency: Histogram; non2xx: number; errors: number; duration: number }
type Cannon = (opts: { url: string; connections: number; duration: number; headers: Record<string, string> }) => Promise<CannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Cannon;

interface Sample { rps: number; p50: number; p99: number; cpuUs: number }

/** CPU time (user + system) a process has used, in µs (Linux /proc; clock ticks of 10 ms). */
function cpuUsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
}

/**
 * Throughput and latency, and the server's CPU per request: on a machine shared with other work
 * the CPU per request moves far less than the throughput does.
 */
async function load(target: Server, token: string, connections: number, duration: number): Promise<Sample> {
  const cpuBefore = cpuUsOf(target.pid);
  const url = `${target.base}/api/v1/audio/?limit=20`;
  const r = await autocannon({ url, connections, duration, headers: { authorization: `Bearer ${token}` } });
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${url}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  const cpuUs = (cpuUsOf(target.pid) - cpuBefore) / r.requests.total;
  return { rps: r.requests.total / r.duration, p50: r.latency.p50, p99: r.latency.p99, cpuUs };
}

async function drive(): Promise<void> {
  if (!existsSync(path.join(ROOT, 'dist', 'server.js'))) throw new Error('build first: npx tsc -p tsconfig.build.json');
  const duration = Number(process.env.BENCH_SECONDS ?? 10);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
  const adminUrl = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const dbName = `transcribo_bench_${randomBytes(5).toString('hex')}`;
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  const env = { DATABASE_URL: url.toString(), SECRET_KEY: randomBytes(32).toString('hex'), DATABASE_POOL_SIZE: String(POOL_SIZE) };
  await admin(`create database ${dbName}`);
  const servers: Server[] = [];
  try {
    // Seeding runs on a server of its own: the measured ones are all fresh and serve only the list,
    // so none carries the type feedback of other routes (that alone moved CPU per request by ~30%).
    const seeder = await startBuiltServer(env); // migrates the database
    const seed = async () => {
      const token = await register(seeder.base);
      for (let i = 0; i < 25; i++) {
        const res = await fetch(`${seeder.base}/api/v1/audio/upload`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ title: `Meeting ${i}`, original_text: `Notes of meeting ${i}. Two sentences.`, language: 'en' }),
        });
        if (res.status !== 201) throw new Error(`upload: ${res.status} ${await res.text()}`);
      }
      return token;
    };
    let token: string;
    try {
      await seed(); // someone else's rows, which RLS must leave out
      await sleep(5); // register() names accounts by Date.now()
      token = await seed();
    } finally {
      await seeder.stop();
    }
    const built = await startBuiltServer(env);
    const transcribo = { base: built.base, pid: built.proc.pid!, stop: () => built.stop() };
    servers.push(transcribo);
    const targets: Record<string, Server> = { transcribo };
    // label=path,…: other builds of the server, e.g. main's, measured in the same rounds.
    const builds = (process.env.BENCH_COMPARE ?? '').split(',').filter(Boolean).map((pair) => pair.split('=') as [string, string]);
    for (const [label, serverJs] of builds) {
      const other = await startOtherBuild(path.resolve(serverJs), env);
      servers.push(other);
      targets[`transcribo@${label}`] = other;
    }
    for (const variant of ['4rt', '1rt'] as const) {
      const ceiling = await startCeiling(variant, env);
      servers.push(ceiling);
      targets[`ceiling_${variant}`] = ceiling;
    }
    // Same rows, same page: the servers really do the same work.
    const pages = await Promise.all(
      Object.values(targets).map((target) => fetch(`${target.base}/api/v1/audio/?limit=20`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json() as Promise<PageBody>)),
    );
    const ids = pages.map((p) => `${p.items.map((i) => i.id).join()}|${p.next_cursor}`);
    if (new Set(ids).size !== 1 || pages[0]!.items.length !== 20) throw new Error(`pages differ: ${JSON.stringify(pages)}`);

    const names = Object.keys(targets);
    for (const name of names) await load(targets[name]!, token, 16, 5); // JIT and pools warm
    const samples: Record<string, Record<number, Sample[]>> = Object.fromEntries(names.map((n) => [n, { 64: [], 16: [] }]));
    for (let round = 0; round < rounds; round++) {
      for (const connections of [64, 16]) {
        // Rotating the order spreads drift (other work on the machine) over every variant.
        const order = names.map((_, i) => names[(i + round) % names.length]!);
        for (const name of order) {
          const sample = await load(targets[name]!, token, connections, duration);
          samples[name]![connections]!.push(sample);
          const { rps, p50, p99, cpuUs } = sample;
          console.log(`round ${round + 1} c=${connections} ${name}: ${rps.toFixed(0)} req/s p50 ${p50} ms p99 ${p99} ms, ${cpuUs.toFixed(0)} µs CPU/req`);
        }
      }
    }
    const summary = (list: Sample[]) => ({
      req_per_s: Math.round(median(list.map((s) => s.rps))),
      p50_ms: median(list.map((s) => s.p50)),
      p99_ms: median(list.map((s) => s.p99)),
      server_cpu_us_per_req: Math.round(median(list.map((s) => s.cpuUs))),
      runs: list.map((s) => ({ req_per_s: Math.round(s.rps), p50_ms: s.p50, p99_ms: s.p99, server_cpu_us_per_req: Math.round(s.cpuUs) })),
    });
    const at = (connections: number) => {
      const out = Object.fromEntries(names.map((n) => [n, summary(samples[n]![connections]!)]));
      const ratios = (to: string, key: 'req_per_s' | 'server_cpu_us_per_req') =>
        Object.fromEntries(names.filter((n) => n.startsWith('transcribo')).map((n) => [n, +(out[n]![key] / out[to]![key]).toFixed(2)]));
      return {
        ...out,
        ratio_to_ceiling_4rt: ratios('ceiling_4rt', 'req_per_s'),
        ratio_to_ceiling_1rt: ratios('ceiling_1rt', 'req_per_s'),
        cpu_per_req_relative_to_ceiling_1rt: ratios('ceiling_1rt', 'server_cpu_us_per_req'),
      };
    };
    writeResult('list-ceiling', {
      request: 'GET /api/v1/audio/?limit=20 (20 of 25 own recordings; another user owns 25 more)',
      seconds_per_run: duration,
      rounds,
      pool_size: POOL_SIZE,
      compared_builds: Object.fromEntries(builds),
      logging: 'Transcribo LOG_LEVEL=warn (pino, nothing logged per request); ceilings logger: false',
      ceilings: 'bench/list-ceiling-server.ts: Fastify (schemas for query and reply) + pg + jose, HMAC key imported once, JWT verified on every request',
      servers: 'each a fresh process that has served only this route (seeding ran on another server, since stopped)',
      note: 'servers, PostgreSQL and autocannon share this machine (and other work): compare ratios and CPU per request, not absolute figures',
      connections_64: at(64),
      connections_16: at(16),
      goals: { ratio_to_4rt_at_64: 1.2, p99_ms_at_16: 50 },
    });
  } finally {
    for (const server of servers.reverse()) await server.stop();
    await admin(`drop database if exists ${dbName} with (force)`);
  }
}

await drive();
