/**
 * Real server processes for end-to-end tests: spawned with a minimal environment, waited for,
 * signalled, and always killed and cleaned up when the test file ends.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SERVER_JS = path.join(ROOT, 'dist', 'server.js');
export const WORKER_JS = path.join(ROOT, 'dist', 'worker.js');
/** The server run from source through tsx, for tests that need no build. */
export const SERVER_FROM_SOURCE = ['--import', path.join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs'), path.join(ROOT, 'src', 'server.ts')];

// Generous: a first start initialises a database, and a busy machine may take many times longer.
export const START_TIMEOUT_MS = 120_000;
export const EXIT_TIMEOUT_MS = 15_000;

// ---------------------------------------------------------------------------------------------
// Temp dirs and child processes, all cleaned up whatever happens.

const tempDirs: string[] = [];
export function tempDir(label: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `transcribo-e2e-${label}-`));
  // Run as root, the embedded PostgreSQL runs as the 'postgres' user, who must be able to enter it.
  chmodSync(dir, 0o755);
  tempDirs.push(dir);
  return dir;
}

/**
 * A server killed with SIGKILL leaves its embedded PostgreSQL running (the next start would adopt
 * it); at the end of the file nothing will start again, so stop those before deleting their folders.
 */
async function stopLeftoverPostgres(dir: string): Promise<void> {
  for (const pgdata of [path.join(dir, 'pg'), path.join(dir, 'data', 'pg')]) {
    let pid: number;
    try {
      pid = Number(readFileSync(path.join(pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch {
      continue;
    }
    if (!Number.isInteger(pid) || pid <= 0) continue;
    try {
      process.kill(pid, 'SIGQUIT');
    } catch {
      continue;
    }
    for (let i = 0; i < 200; i++) {
      try {
        process.kill(pid, 0);
      } catch {
        break;
      }
      await sleep(25);
    }
  }
}

const children = new Set<ChildProcess>();
after(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
  for (const dir of tempDirs) {
    await stopLeftoverPostgres(dir).catch(() => undefined);
    // A browser still closing may write into its profile while it goes: retry rather than fail the file.
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
});

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Child {
  proc: ChildProcess;
  exited: Promise<Exit>;
  output(): string;
  stderr(): string;
}

/** Spawns with a minimal environment: PATH, HOME and what the caller gives, nothing else inherited. */
export function spawnChild(args: string[], env: Record<string, string>, cwd: string): Child {
  const proc = spawn(process.execPath, args, {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(proc);
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  proc.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<Exit>((resolve) => {
    proc.once('exit', (code, signal) => {
      children.delete(proc);
      resolve({ code, signal });
    });
  });
  return { proc, exited, output: () => `--- stdout\n${out}\n--- stderr\n${err}`, stderr: () => err };
}

export async function waitForExit(child: Child, ms = EXIT_TIMEOUT_MS): Promise<Exit> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  const result = await Promise.race([child.exited, timeout]);
  clearTimeout(timer);
  if (result === 'timeout') {
    child.proc.kill('SIGKILL');
    assert.fail(`process did not exit within ${ms} ms\n${child.output()}`);
  }
  return result;
}

/**
 * A port nothing listens on, for a process this test will start. Chosen below the kernel's ephemeral
 * range (32768 and up on Linux), where the outgoing connections every other suite opens take their
 * local ports: a port from listen(0) is in that range, and between closing it here and the child
 * binding it, any connect() on the machine could take it (seen as EADDRINUSE on a busy CI run).
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await bindAndRelease(20_000 + Math.floor(Math.random() * 12_000));
    if (port !== null) return port;
  }
  const anywhere = await bindAndRelease(0);
  assert.ok(anywhere !== null, 'no port to listen on');
  return anywhere;
}

/** Listens on `port` (0: any) on 127.0.0.1 and closes again: the port it had, or null when taken. */
async function bindAndRelease(port: number): Promise<number | null> {
  const server = createServer();
  const bound = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (!bound) return null;
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert.ok(address && typeof address === 'object');
  return address.port;
}

// ---------------------------------------------------------------------------------------------
// The built server.

export interface RunningServer extends Child {
  base: string;
  dataDir: string;
}

export async function startServer(
  dataDir: string,
  extraEnv: Record<string, string> = {},
  args: string[] = [SERVER_JS],
): Promise<RunningServer> {
  // Another test process may still bind the same port between freePort() and this child's listen.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startServerOnce(dataDir, extraEnv, args);
    } catch (error) {
      if (!(error instanceof PortTaken) || attempt === 3) throw error;
    }
  }
}

class PortTaken extends Error {}

async function startServerOnce(dataDir: string, extraEnv: Record<string, string>, args: string[]): Promise<RunningServer> {
  const port = await freePort();
  const child = spawnChild(
    args,
    { DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', ...extraEnv },
    // A cwd with no .env, so only the environment above configures the server.
    tempDir('cwd'),
  );
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  let exit: Exit | undefined;
  void child.exited.then((e) => (exit = e));
  while (Date.now() < deadline) {
    if (exit) {
      if (child.output().includes(`EADDRINUSE`) && child.output().includes(`:${port}`)) throw new PortTaken(child.output());
      assert.fail(`server exited early (${JSON.stringify(exit)})\n${child.output()}`);
    }
    try {
      const res = await fetch(`${base}/api/v1/health/liveness`, { signal: AbortSignal.timeout(1_000) });
      if (res.status === 200) {
        assert.deepEqual(await res.json(), { status: 'alive' });
        return { ...child, base, dataDir };
      }
    } catch {
      // Not listening yet.
    }
    await sleep(100);
  }
  child.proc.kill('SIGKILL');
  assert.fail(`server did not answer /api/v1/health/liveness within ${START_TIMEOUT_MS} ms\n${child.output()}`);
}

/** A `worker` process, once it has said it is ready. */
export async function startWorker(env: Record<string, string>, args: string[] = [WORKER_JS]): Promise<Child> {
  // The readiness line is logged at info.
  const worker = spawnChild(args, { HOST: '127.0.0.1', ...env, LOG_LEVEL: 'info' }, tempDir('worker-cwd'));
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!worker.output().includes('"worker ready"')) {
    if (worker.proc.exitCode !== null || worker.proc.signalCode !== null) assert.fail(`worker exited early\n${worker.output()}`);
    if (Date.now() > deadline) {
      worker.proc.kill('SIGKILL');
      assert.fail(`worker did not start within ${START_TIMEOUT_MS} ms\n${worker.output()}`);
    }
    await sleep(100);
  }
  return worker;
}

export async function stopServer(server: Child): Promise<Exit> {
  server.proc.kill('SIGTERM');
  return waitForExit(server);
}

export async function call(
  server: RunningServer,
  method: string,
  url: string,
  options: { token?: string; body?: unknown; timeoutMs?: number } = {},
) {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${server.base}${url}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    // A request that waits on purpose (`?wait=`) says how long; others get 10 s.
    signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
  });
  const text = await res.text();
  // JSON replies are read loosely, as light-my-request's res.json() is in the other tests.
  return { status: res.status, body: text ? JSON.parse(text) : null };
}


/** Polls `probe` until it returns something truthy; fails naming `what` after `ms`. */
export async function waitUntil<T>(what: string, probe: () => Promise<T> | T, ms = 60_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

// ---------------------------------------------------------------------------------------------
// Server-sent events, read as a browser's EventSource would (without reconnecting).

export interface StreamEvent {
  event: string;
  data: unknown;
  id?: string;
}

export interface EventStreamReader {
  events: StreamEvent[];
  /** Resolves when the server ends the response (or the connection drops). */
  ended: Promise<void>;
  isEnded(): boolean;
  /** The first event named `event`, waited for until the stream ends. */
  next(event: string): Promise<StreamEvent>;
  close(): void;
}

export async function readEventStream(url: string, init: RequestInit = {}): Promise<EventStreamReader> {
  const controller = new AbortController();
  const res = await fetch(url, { ...init, signal: controller.signal });
  if (res.status !== 200) assert.fail(`expected an event stream, got ${res.status}: ${await res.text()}`);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  assert.ok(res.body, 'an event stream has a body');
  const events: StreamEvent[] = [];
  const waiters = new Set<() => void>();
  let done = false;
  const notify = () => {
    for (const waiter of waiters) waiter();
  };
  const ended = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = new Map(block.split('\n').map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trimStart()]));
          const data = fields.get('data');
          events.push({ event: fields.get('event') ?? 'message', data: data === undefined ? null : JSON.parse(data), id: fields.get('id') });
          notify();
        }
      }
    } catch {
      // The connection dropped: the stream ended all the same.
    } finally {
      done = true;
      notify();
    }
  })();
  return {
    events,
    ended,
    isEnded: () => done,
    next: (event) =>
      new Promise<StreamEvent>((resolve, reject) => {
        const check = () => {
          const found = events.find((e) => e.event === event);
          if (found) resolve(found);
          else if (done) reject(new Error(`the stream ended without a "${event}" event: ${JSON.stringify(events)}`));
          else return;
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
    close: () => controller.abort(),
  };
}
