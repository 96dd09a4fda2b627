/**
 * The built server as an operator runs it: `node dist/server.js` with nothing configured, signals,
 * restarts on the same DATA_DIR, and the migrate command against a real PostgreSQL.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { POSTGRES_ADMIN_URL } from '../helpers/databases.js';
import {
  ROOT,
  SERVER_JS,
  call,
  freePort,
  spawnChild,
  startServer,
  stopServer,
  tempDir,
  waitForExit,
  type RunningServer,
} from '../helpers/server-process.js';

const MIGRATE_TS = path.join(ROOT, 'src', 'cli', 'migrate.ts');
const PKG_VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/**
 * POSTs a large upload over a real connection in a way that is provably in flight: the headers go
 * first with `Expect: 100-continue`; once the server answers 100 it has accepted the request, and
 * `inFlight` runs. The body follows in chunks, spread out so it is still arriving during shutdown.
 */
function slowUpload(
  server: RunningServer,
  token: string,
  payload: Buffer,
  inFlight: () => void,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${server.base}/api/v1/audio/upload`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'content-length': String(payload.length),
        expect: '100-continue',
      },
    });
    req.setTimeout(20_000, () => req.destroy(new Error('upload timed out')));
    req.on('error', reject);
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.once('continue', () => {
      inFlight();
      void (async () => {
        const chunk = Math.ceil(payload.length / 8);
        for (let at = 0; at < payload.length; at += chunk) {
          await sleep(75);
          req.write(payload.subarray(at, at + chunk));
        }
        req.end();
      })().catch(reject);
    });
    req.flushHeaders();
  });
}

describe('built server (node dist/server.js)', () => {
  before(async () => {
    // Build from the sources under test so dist/ is never stale.
    await promisify(execFile)(process.execPath, ['scripts/build.js', '--if-stale'], { cwd: ROOT, timeout: 300_000 });
    assert.ok(existsSync(SERVER_JS), `${SERVER_JS} was not built`);
  });

  describe('start, stop and restart with nothing configured', () => {
    let dataDir: string;
    let first: RunningServer | undefined;
    let second: RunningServer | undefined;
    const email = `e2e-${randomBytes(5).toString('hex')}@example.com`;
    const password = 'correct horse battery';
    let accessToken = '';
    let recordingId = '';

    before(() => {
      dataDir = path.join(tempDir('data'), 'data');
    });
    after(() => {
      for (const server of [first, second]) if (server) server.proc.kill('SIGKILL');
    });

    test('starts the embedded PostgreSQL with a generated secret and reports healthy', async () => {
      first = await startServer(dataDir);
      const health = await call(first, 'GET', '/api/v1/health/');
      assert.equal(health.status, 200);
      assert.equal(health.body.status, 'healthy');
      assert.equal(health.body.version, PKG_VERSION);
      assert.equal(typeof health.body.uptime, 'number');

      const ready = await call(first, 'GET', '/api/v1/health/readiness');
      assert.equal(ready.status, 200);
      assert.equal(ready.body.checks.database.status, 'ok');

      const secret = readFileSync(path.join(dataDir, 'secret_key'), 'utf8').trim();
      assert.ok(secret.length >= 32, 'a secret was generated under DATA_DIR');
      assert.ok(existsSync(path.join(dataDir, 'pg', 'PG_VERSION')), 'the embedded PostgreSQL keeps its cluster in DATA_DIR/pg');
    });

    test('registers a user and uploads a text entry', async () => {
      assert.ok(first, 'server not started');
      const registered = await call(first, 'POST', '/api/v1/auth/register', { body: { email, password } });
      assert.equal(registered.status, 201, JSON.stringify(registered.body));
      accessToken = registered.body.access_token;

      const upload = await call(first, 'POST', '/api/v1/audio/upload', {
        token: accessToken,
        body: { title: 'Before restart', original_text: 'Primera frase. Segunda frase.', language: 'es' },
      });
      assert.equal(upload.status, 201, JSON.stringify(upload.body));
      recordingId = upload.body.id;
      assert.equal(upload.body.transcription.segments.length, 2);
    });

    test('SIGTERM: exits 0 within 15 s', async () => {
      assert.ok(first, 'server not started');
      const exit = await stopServer(first);
      assert.deepEqual(exit, { code: 0, signal: null }, first.output());
    });

    test('restarted on the same DATA_DIR: login works, the old token is valid, the data is there', async () => {
      assert.ok(accessToken && recordingId, 'earlier steps did not complete');
      second = await startServer(dataDir);

      const login = await call(second, 'POST', '/api/v1/auth/login', { body: { email, password } });
      assert.equal(login.status, 200, JSON.stringify(login.body));
      assert.equal(typeof login.body.access_token, 'string');

      // Signed before the restart: only valid if the generated secret was persisted and reused.
      const me = await call(second, 'GET', '/api/v1/auth/me', { token: accessToken });
      assert.equal(me.status, 200, JSON.stringify(me.body));
      assert.equal(me.body.email, email);

      const list = await call(second, 'GET', '/api/v1/audio/', { token: accessToken });
      assert.equal(list.status, 200, JSON.stringify(list.body));
      assert.deepEqual(
        list.body.items.map((r: { id: string; title: string }) => [r.id, r.title]),
        [[recordingId, 'Before restart']],
      );

      const exit = await stopServer(second);
      assert.deepEqual(exit, { code: 0, signal: null }, second.output());
    });
  });

  describe('graceful shutdown', () => {
    let dataDir: string;
    const email = `e2e-${randomBytes(5).toString('hex')}@example.com`;
    const password = 'correct horse battery';
    let server: RunningServer | undefined;
    before(() => {
      dataDir = path.join(tempDir('data'), 'data');
    });
    after(() => server?.proc.kill('SIGKILL'));

    /** Sends SIGTERM once the upload is in flight; resolves to how a new request fared meanwhile. */
    async function uploadThroughShutdown(running: RunningServer, token: string, text: string) {
      const payload = Buffer.from(JSON.stringify({ title: 'Large', original_text: text, language: 'es' }));
      let newRequest: Promise<number | 'refused'> | undefined;
      const upload = await slowUpload(running, token, payload, () => {
        running.proc.kill('SIGTERM');
        // While the upload's body is still arriving, the server must already refuse new work.
        newRequest = sleep(300).then(() =>
          fetch(`${running.base}/api/v1/health/liveness`, { signal: AbortSignal.timeout(5_000) }).then(
            (res) => res.status,
            () => 'refused' as const,
          ),
        );
      });
      assert.ok(newRequest, 'SIGTERM was sent while the request was in flight');
      return { upload, newRequest: await newRequest };
    }

    test('a request in flight at SIGTERM still completes with 201, then the process exits 0', async () => {
      // A generous shutdown budget: this test is about the request finishing, not about speed (the
      // next test is), and a 3 MB upload on a busy CI machine must not race the default 10 s.
      server = await startServer(dataDir, { SHUTDOWN_TIMEOUT_MS: '30000' });
      const registered = await call(server, 'POST', '/api/v1/auth/register', { body: { email, password } });
      assert.equal(registered.status, 201, JSON.stringify(registered.body));

      // ~3 MB; no sentence breaks, so it is stored as ~3,000 segments of up to 1,000 characters.
      const text = 'palabra '.repeat(375_000);
      const running = server;
      const { upload, newRequest } = await uploadThroughShutdown(running, registered.body.access_token, text);
      assert.equal(upload.status, 201, upload.body.slice(0, 2_000));
      const created = JSON.parse(upload.body);
      assert.equal(created.size_bytes, Buffer.byteLength(text));
      assert.equal(created.transcription.status, 'completed');
      assert.ok(newRequest === 'refused' || newRequest === 503, `a new request during shutdown got ${newRequest}`);

      const exit = await waitForExit(running);
      assert.deepEqual(exit, { code: 0, signal: null }, running.output());
    });

    // The client above keeps its connection alive (Node's default agent does). Once its response
    // is sent that connection is idle, and shutdown must not wait for it to time out: with a
    // shutdown budget shorter than the server's keep-alive timeout (5 s) the process must still
    // exit 0 rather than report "in-flight requests did not finish in time".
    test('an idle keep-alive connection left by the in-flight request does not hold shutdown open', async () => {
      server = await startServer(dataDir, { SHUTDOWN_TIMEOUT_MS: '3000' });
      const login = await call(server, 'POST', '/api/v1/auth/login', { body: { email, password } });
      assert.equal(login.status, 200, JSON.stringify(login.body));

      const running = server;
      const { upload } = await uploadThroughShutdown(running, login.body.access_token, 'palabra '.repeat(20_000));
      assert.equal(upload.status, 201, upload.body.slice(0, 2_000));
      const respondedAt = Date.now();

      const exit = await waitForExit(running);
      assert.deepEqual(exit, { code: 0, signal: null }, running.output());
      assert.ok(Date.now() - respondedAt < 2_000, `exit took ${Date.now() - respondedAt} ms after the last response`);
    });
  });

  test('ENVIRONMENT=production without SECRET_KEY: exits non-zero naming SECRET_KEY', async () => {
    const port = await freePort();
    const child = spawnChild(
      [SERVER_JS],
      {
        ENVIRONMENT: 'production',
        DATA_DIR: path.join(tempDir('data'), 'data'),
        HOST: '127.0.0.1',
        PORT: String(port),
        LOG_LEVEL: 'warn',
      },
      tempDir('cwd'),
    );
    const exit = await waitForExit(child);
    assert.notEqual(exit.code, 0, child.output());
    assert.notEqual(exit.code, null, child.output());
    assert.match(child.stderr(), /SECRET_KEY/, child.output());
  });
});

describe('migrate command (npm run migrate)', () => {
  const name = `transcribo_e2e_${randomBytes(6).toString('hex')}`;
  let created = false;

  async function admin(sql: string): Promise<void> {
    const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 5_000 });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  }

  after(async () => {
    if (created) await admin(`drop database if exists ${name} with (force)`);
  });

  async function runMigrate(databaseUrl: string): Promise<string> {
    // `npm run migrate` is `tsx src/cli/migrate.ts`; run from a cwd with no .env.
    const child = spawnChild(
      ['--import', import.meta.resolve('tsx'), MIGRATE_TS],
      { DATABASE_URL: databaseUrl, DATA_DIR: path.join(tempDir('data'), 'data') },
      tempDir('cwd'),
    );
    const exit = await waitForExit(child, 60_000);
    assert.deepEqual(exit, { code: 0, signal: null }, child.output());
    return child.output();
  }

  test('applies every migration to a fresh PostgreSQL database, then none', async () => {
    await admin(`create database ${name}`);
    created = true;
    const url = new URL(POSTGRES_ADMIN_URL);
    url.pathname = `/${name}`;
    const migrations = readdirSync(path.join(ROOT, 'migrations')).filter((f) => f.endsWith('.sql'));
    assert.ok(migrations.length > 0);

    const first = await runMigrate(url.toString());
    const applied = /applied (\d+) migration\(s\)/.exec(first);
    assert.ok(applied, first);
    assert.equal(Number(applied[1]), migrations.length, first);
    for (const file of migrations) assert.ok(first.includes(file), `${file} not reported\n${first}`);
    assert.match(first, new RegExp(`PostgreSQL at [^\\s]+/${name}`));
    assert.doesNotMatch(first, /postgres:\/\//, 'the log names no connection string');

    const second = await runMigrate(url.toString());
    assert.match(second, /applied 0 migration\(s\)/, second);
    assert.match(second, new RegExp(`${migrations.length} already in place`), second);
  });
});
