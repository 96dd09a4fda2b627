/**
 * A private redis-server on a free port, for tests that stop and restart Redis: the shared one
 * other test files use must never go down under them.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { after } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { freePort, tempDir } from './server-process.js';

const running = new Set<ChildProcess>();
after(() => {
  for (const proc of running) proc.kill('SIGKILL');
});

export function redisServerBinary(): string | null {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

export interface PrivateRedis {
  url: string;
  /** Stops the server; like a restart without persistence, everything in it is gone. */
  stop(): Promise<void>;
  start(): Promise<void>;
}

async function answers(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const binary = redisServerBinary();
  assert.ok(binary, 'redis-server is not installed');
  const port = await freePort();
  const dir = tempDir('redis');
  const url = `redis://127.0.0.1:${port}`;
  let proc: ChildProcess | null = null;
  const start = async () => {
    const started = spawn(
      binary,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      { stdio: 'ignore' },
    );
    running.add(started);
    started.once('exit', () => running.delete(started));
    proc = started;
    const deadline = Date.now() + 10_000;
    while (!(await answers(url))) {
      if (Date.now() > deadline) assert.fail('redis-server did not start within 10 s');
      await sleep(50);
    }
  };
  await start();
  return {
    url,
    start,
    stop: async () => {
      const current = proc;
      if (!current) return;
      proc = null;
      if (current.exitCode !== null || current.signalCode !== null) return;
      const exited = new Promise((resolve) => current.once('exit', resolve));
      current.kill('SIGTERM');
      await exited;
    },
  };
}
