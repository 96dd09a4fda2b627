import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import https from 'node:https';
import { createServer } from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));

export interface BenchServer {
  base: string;
  proc: ChildProcess;
  /** The DATA_DIR it runs on, to start another server on the same data. */
  dataDir: string;
  /** From spawn to the first 200 from the liveness route. */
  readyMs: number;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Reuse this DATA_DIR (e.g. a second start on initialised data); default: a fresh one. */
  dataDir?: string;
  /** The script to run, from the repository root (default dist/server.js; scripts/start.js is `npm start`). */
  entry?: string;
  /** The certificate the server serves (env sets TLS_CERT_FILE/TLS_KEY_FILE): HTTPS, trusting it. */
  ca?: string;
}

/** GET liveness: fetch for plain HTTP, node:https for a self-signed certificate fetch cannot be told to trust. */
function live(url: string, ca: string | undefined): Promise<boolean> {
  if (ca === undefined) return fetch(url).then((res) => res.ok);
  return new Promise((resolve, reject) => {
    https.get(url, { ca }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    }).on('error', reject);
  });
}

function freshDataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'transcribo-bench-data-'));
  // mkdtemp makes it 0700; an embedded PostgreSQL started by root runs as the postgres user and
  // must be able to pass through it to its own folder inside.
  chmodSync(dir, 0o755);
  return dir;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const READY_TIMEOUT_MS = 60_000;
/** Short, so that readyMs is a start-up time and not mostly polling granularity. */
const READY_POLL_MS = 20;

/**
 * The built server (dist/server.js, or options.entry) on 127.0.0.1 only. Rejects (and stops it)
 * when it exits or is not live within a minute, so a benchmark never measures a server that is
 * not there.
 */
export async function startBuiltServer(env: Record<string, string>, options: StartOptions = {}): Promise<BenchServer> {
  const port = await freePort();
  const dataDir = options.dataDir ?? freshDataDir();
  const entry = options.entry ?? 'dist/server.js';
  const started = performance.now();
  const proc = spawn(process.execPath, [path.join(ROOT, entry)], {
    cwd: mkdtempSync(path.join(tmpdir(), 'transcribo-bench-cwd-')),
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? tmpdir(),
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      DATA_DIR: dataDir,
      RATE_LIMIT_MAX: '100000',
      AUTH_RATE_LIMIT_MAX: '100000',
      ...env,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  let exit: string | null = null;
  proc.once('exit', (code, signal) => (exit = `exited (${signal ?? code}) before it was live`));
  const base = `${options.ca === undefined ? 'http' : 'https'}://127.0.0.1:${port}`;
  let readyMs: number | null = null;
  while (readyMs === null && exit === null && performance.now() - started < READY_TIMEOUT_MS) {
    try {
      if (await live(`${base}/api/v1/health/liveness`, options.ca)) readyMs = performance.now() - started;
    } catch {
      // not up yet
    }
    if (readyMs === null) await sleep(READY_POLL_MS);
  }
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    // SIGTERM first: a server with an embedded PostgreSQL stops its child processes on the way out.
    proc.kill('SIGTERM');
    await Promise.race([exited, sleep(15_000).then(() => proc.kill('SIGKILL'))]);
  };
  if (readyMs === null) {
    await stop();
    throw new Error(`${entry} ${exit ?? `was not live after ${READY_TIMEOUT_MS} ms`}`);
  }
  return {
    base,
    proc,
    dataDir,
    readyMs,
    stop,
  };
}

/** Starts a new peak-RSS window for the process (Linux: writing 5 to clear_refs resets VmHWM). */
export function resetPeak(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

/** Resident and peak resident memory of a process, in bytes (Linux /proc). */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

export async function register(base: string): Promise<string> {
  const res = await fetch(`${base}/api/v1/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: `bench-${Date.now()}@example.com`, password: 'benchmark password' }),
  });
  if (res.status !== 201) throw new Error(`register: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

export function writeResult(name: string, result: Record<string, unknown>): void {
  const dir = path.join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const record = { benchmark: name, date: new Date().toISOString(), machine: machine(), ...result };
  writeFileSync(path.join(dir, `${name}.json`), `${JSON.stringify(record, null, 2)}\n`);
  console.log(JSON.stringify(record, null, 2));
}
