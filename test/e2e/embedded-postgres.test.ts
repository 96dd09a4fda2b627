/**
 * The embedded default from a clean DATA_DIR: a real PostgreSQL server started, adopted after a
 * kill -9, stopped with the API, shared with a worker, run as an unprivileged user under root,
 * and the data of the old PGlite default imported.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { hashPassword } from '../../src/auth/passwords.js';
import type { AppDatabase } from '../../src/db/client.js';
import { migrate } from '../../src/db/migrate.js';
import { newId } from '../../src/db/ids.js';
import { shortClip } from '../helpers/audio.js';
import {
  ROOT,
  SERVER_JS,
  call,
  spawnChild,
  startServer,
  stopServer,
  tempDir,
  waitForExit,
  type RunningServer,
} from '../helpers/server-process.js';

const password = 'correct horse battery';

/** The pid of the postmaster running on DATA_DIR/pg, or null when none runs. */
function postmasterPid(dataDir: string): number | null {
  const file = path.join(dataDir, 'pg', 'postmaster.pid');
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
  return alive(pid) ? pid : null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every postgres server process (postmaster) whose data folder is this one. */
function postmastersOn(pgdata: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        return path.basename(args[0] ?? '') === 'postgres' && args.includes(pgdata);
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function until(what: string, check: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function registerAndUpload(server: RunningServer, email: string, title: string) {
  const registered = await call(server, 'POST', '/api/v1/auth/register', { body: { email, password } });
  assert.equal(registered.status, 201, JSON.stringify(registered.body));
  const token: string = registered.body.access_token;
  const upload = await call(server, 'POST', '/api/v1/audio/upload', {
    token,
    body: { title, original_text: 'Una frase. Otra frase.', language: 'es' },
  });
  assert.equal(upload.status, 201, JSON.stringify(upload.body));
  return { token, recordingId: upload.body.id as string };
}

describe('embedded PostgreSQL (built server, nothing configured)', () => {
  before(async () => {
    await promisify(execFile)(process.execPath, ['scripts/build.js', '--if-stale'], { cwd: ROOT, timeout: 300_000 });
  });

  describe('kill -9 and restart', () => {
    const dataDir = path.join(tempDir('data'), 'data');
    const email = `e2e-${randomBytes(5).toString('hex')}@example.com`;
    let first: RunningServer | undefined;
    let second: RunningServer | undefined;
    after(() => {
      for (const server of [first, second]) server?.proc.kill('SIGKILL');
    });

    test('a killed API leaves its server running; the next start adopts it, never a second one', async () => {
      first = await startServer(dataDir);
      const { token, recordingId } = await registerAndUpload(first, email, 'Before the kill');
      const pid = postmasterPid(dataDir);
      assert.ok(pid, 'the embedded server runs');
      if (process.getuid?.() === 0) {
        assert.notEqual(statSync(`/proc/${pid}`).uid, 0, 'run as root, PostgreSQL runs as an unprivileged user');
      }

      first.proc.kill('SIGKILL');
      await waitForExit(first);
      assert.ok(alive(pid), 'kill -9 of the API cannot stop its server');

      second = await startServer(dataDir);
      assert.deepEqual(postmastersOn(path.join(dataDir, 'pg')), [pid], 'the running server was adopted');
      const list = await call(second, 'GET', '/api/v1/audio/', { token });
      assert.equal(list.status, 200, JSON.stringify(list.body));
      assert.deepEqual(list.body.items.map((r: { id: string }) => r.id), [recordingId]);

      const exit = await stopServer(second);
      assert.deepEqual(exit, { code: 0, signal: null }, second.output());
      await until('the adopted server to stop with the API', () => !alive(pid));
      assert.equal(existsSync(path.join(dataDir, 'pg', 'postmaster.pid')), false, 'a clean shutdown');
    });

    test('a second API on a DATA_DIR whose server is in use exits naming the other process', async () => {
      first = await startServer(dataDir);
      const other = spawnChild([SERVER_JS], { DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn' }, tempDir('cwd'));
      const exit = await waitForExit(other, 30_000);
      assert.equal(exit.code, 1, other.output());
      assert.match(other.stderr(), new RegExp(`Another Transcribo process \\(pid ${first.proc.pid}\\)`), other.output());
      const still = await call(first, 'GET', '/api/v1/health/readiness');
      assert.equal(still.status, 200, 'the first API keeps its database');
      assert.deepEqual(await stopServer(first), { code: 0, signal: null }, first.output());
    });

    test('a server out of sight (another container on the same volume) keeps the folder: the API exits, nothing started', async () => {
      // What a server in another pid namespace leaves visible here: no live pid, but its flock.
      const pgdata = path.join(dataDir, 'pg');
      // Its own process group: flock runs the command in a child, which must die with it.
      const holder = spawn('flock', [path.join(pgdata, 'transcribo.lock'), '-c', 'echo locked; exec sleep 300'], {
        stdio: ['ignore', 'pipe', 'inherit'],
        detached: true,
      });
      try {
        await once(holder.stdout, 'data');
        const other = spawnChild([SERVER_JS], { DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn' }, tempDir('cwd'));
        const exit = await waitForExit(other, 60_000);
        assert.equal(exit.code, 1, other.output());
        assert.match(other.stderr(), /started by a process this one cannot see/, other.output());
        assert.deepEqual(postmastersOn(pgdata), [], 'no second server on the same files');
      } finally {
        process.kill(-holder.pid!, 'SIGKILL');
        holder.stdout.destroy();
      }
    });
  });

  test('npm run worker joins the embedded server of an API that runs no jobs itself', async () => {
    const dataDir = path.join(tempDir('data'), 'data');
    const api = await startServer(dataDir, { RUN_WORKERS: 'false', STT_ENGINE: 'sphinx' });
    const worker = spawnChild([path.join(ROOT, 'dist', 'worker.js')], { DATA_DIR: dataDir, LOG_LEVEL: 'info', STT_ENGINE: 'sphinx' }, tempDir('cwd'));
    try {
      const { token } = await registerAndUpload(api, `e2e-${randomBytes(5).toString('hex')}@example.com`, 'text');
      const form = new FormData();
      form.append('file', new Blob([readFileSync(shortClip().wavPath)]), 'clip.wav');
      const upload = await fetch(`${api.base}/api/v1/audio/upload`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
      assert.equal(upload.status, 201, await upload.clone().text());
      const { id } = (await upload.json()) as { id: string };
      // The worker starts, then transcribes: on a busy machine well past call()'s usual 10 s.
      const done = await call(api, 'POST', `/api/v1/audio/${id}/transcribe?wait=90`, { token, timeoutMs: 100_000 });
      assert.equal(done.status, 200, JSON.stringify(done.body));
      assert.equal(done.body.status, 'completed', JSON.stringify(done.body));
      assert.match(done.body.text, /ill disposed|young man/i);
    } finally {
      worker.proc.kill('SIGTERM');
      await waitForExit(worker);
      assert.deepEqual(await stopServer(api), { code: 0, signal: null }, api.output());
    }
  });

  test('the data of the old PGlite default is imported once and its folder kept', async () => {
    const dataDir = path.join(tempDir('data'), 'data');
    const email = `old-${randomBytes(5).toString('hex')}@example.com`;
    const userId = newId();
    const recordingId = newId();
    // What the previous version left behind: a PGlite database in DATA_DIR/db.
    mkdirSync(dataDir, { recursive: true });
    const old = new PGlite(path.join(dataDir, 'db'));
    await migrate(drizzle({ client: old }) as unknown as AppDatabase);
    await old.query('insert into users (id, email, password_hash) values ($1, $2, $3)', [userId, email, await hashPassword(password)]);
    await old.query(
      `insert into recordings (id, user_id, title, source, kind, original_text, size_bytes, sha256)
       values ($1, $2, 'Kept from PGlite', 'upload', 'text', 'Hola.', 5, 'x')`,
      [recordingId, userId],
    );
    await old.close();

    const server = await startServer(dataDir);
    try {
      const login = await call(server, 'POST', '/api/v1/auth/login', { body: { email, password } });
      assert.equal(login.status, 200, JSON.stringify(login.body));
      const list = await call(server, 'GET', '/api/v1/audio/', { token: login.body.access_token });
      assert.deepEqual(list.body.items.map((r: { id: string; title: string }) => [r.id, r.title]), [[recordingId, 'Kept from PGlite']]);
      const kept = readdirSync(dataDir).filter((name) => name.startsWith('db.pglite-imported-'));
      assert.equal(kept.length, 1, `the old folder is kept, renamed: ${readdirSync(dataDir).join(', ')}`);
      assert.equal(existsSync(path.join(dataDir, 'db')), false);
    } finally {
      assert.deepEqual(await stopServer(server), { code: 0, signal: null }, server.output());
    }
    // A restart does not import again (the folder is gone) and keeps the data.
    const again = await startServer(dataDir);
    const login = await call(again, 'POST', '/api/v1/auth/login', { body: { email, password } });
    assert.equal(login.status, 200);
    assert.deepEqual(await stopServer(again), { code: 0, signal: null }, again.output());
  });
});
