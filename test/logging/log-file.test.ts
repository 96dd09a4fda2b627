/**
 * LOG_FILE on the built server: the JSON lines of stdout also land in a file reached through the
 * LOG_FILE link, and the file rotates by size, keeping LOG_FILE_KEEP old ones.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';
import {
  SERVER_JS,
  spawnChild,
  startServer,
  startWorker,
  stopServer,
  tempDir,
  waitForExit,
  waitUntil,
} from '../helpers/server-process.js';

let db: TestDatabase | undefined;
before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await db?.drop();
});

function serverEnv(logFile: string, extra: Record<string, string> = {}): Record<string, string> {
  assert.ok(db);
  return { DATABASE_URL: db.url, LOG_FILE: logFile, LOG_LEVEL: 'info', ...extra };
}

/** Every line of `file`, each parsed as JSON (a torn or mixed line fails here). */
function jsonLines(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** app.<n>.log files in `dir`, by number. */
function numberedFiles(dir: string): number[] {
  return readdirSync(dir)
    .map((name) => /^app\.(\d+)\.log$/.exec(name)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

async function get(base: string, requestId: string): Promise<void> {
  const res = await fetch(`${base}/api/v1/health/liveness`, {
    headers: { 'x-request-id': requestId },
    signal: AbortSignal.timeout(10_000),
  });
  assert.equal(res.status, 200);
  await res.arrayBuffer();
}

describe('LOG_FILE', () => {
  test('holds the same JSON lines as stdout, reached through the LOG_FILE link', async () => {
    const dir = path.join(tempDir('logs'), 'logs'); // made by the server
    const logFile = path.join(dir, 'app.log');
    const server = await startServer(tempDir('data'), serverEnv(logFile));
    const requestId = `log-file-${randomUUID()}`;
    await get(server.base, requestId);

    const line = await waitUntil('the request in the log file', () =>
      jsonLines(logFile).find((entry) => entry.reqId === requestId && entry.msg === 'incoming request'),
    );
    assert.equal(line.level, 30);
    // LOG_FILE_FREQUENCY=daily by default: the day is in the name.
    assert.match(readlinkSync(logFile), /^app\.\d{4}-\d{2}-\d{2}\.1\.log$/);
    // stdout reaches this process through a pipe, on its own schedule: wait for it there too.
    await waitUntil('the request on stdout too', () => server.output().includes(requestId));

    assert.equal((await stopServer(server)).code, 0, server.output());
  });

  test('keeps the line logged just before process.exit()', async () => {
    const logFile = path.join(tempDir('logs'), 'app.log');
    // The port is taken: the server logs "could not listen" and exits at once.
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = taken.address() as AddressInfo;
      const child = spawnChild(
        [SERVER_JS],
        { ...serverEnv(logFile), HOST: '127.0.0.1', PORT: String(port), DATA_DIR: tempDir('data') },
        tempDir('cwd'),
      );
      assert.equal((await waitForExit(child)).code, 1, child.output());
      assert.ok(
        jsonLines(logFile).some((entry) => entry.msg === 'could not listen' && entry.level === 60),
        `the fatal line reached the file\n${readFileSync(logFile, 'utf8')}`,
      );
    } finally {
      taken.close();
    }
  });

  test('rotates at LOG_FILE_MAX_SIZE and keeps LOG_FILE_KEEP old files', async () => {
    const dir = tempDir('logs');
    const logFile = path.join(dir, 'app.log');
    const server = await startServer(
      tempDir('data'),
      serverEnv(logFile, { LOG_FILE_MAX_SIZE: '1k', LOG_FILE_KEEP: '2', LOG_FILE_FREQUENCY: 'off' }),
    );
    // Each request logs two lines of about 300 bytes: a few requests fill a 1 KiB file.
    await waitUntil('a fourth file', async () => {
      await get(server.base, `rotate-${randomUUID()}`);
      return numberedFiles(dir).includes(4);
    });
    // The oldest go, and the link moves on, in the background after each rotation.
    const kept = await waitUntil('old files deleted and the link on the newest', () => {
      const files = numberedFiles(dir);
      const current = files.length <= 3 && files[0] !== 1 && readlinkSync(logFile) === `app.${files.at(-1)}.log`;
      return current ? files : null;
    });
    // Whole JSON lines in each (the one just started may have none yet).
    for (const n of kept.slice(0, -1)) assert.ok(jsonLines(path.join(dir, `app.${n}.log`)).length > 0, `app.${n}.log`);
    jsonLines(path.join(dir, `app.${kept.at(-1)}.log`));
    assert.equal((await stopServer(server)).code, 0, server.output());
  });

  test('a worker writes its own LOG_FILE', async () => {
    const logFile = path.join(tempDir('logs'), 'worker.log');
    const worker = await startWorker({ ...serverEnv(logFile), DATA_DIR: tempDir('data') });
    await waitUntil('the ready line in the file', () =>
      jsonLines(logFile).find((entry) => entry.msg === 'worker ready' && entry.role === 'worker'),
    );
    assert.match(readlinkSync(logFile), /^worker\.\d{4}-\d{2}-\d{2}\.1\.log$/);
    assert.equal((await stopServer(worker)).code, 0, worker.output());
  });

  test('a real file at LOG_FILE stops the start instead of being replaced', async () => {
    const logFile = path.join(tempDir('logs'), 'app.log');
    writeFileSync(logFile, 'not ours\n');
    const child = spawnChild([SERVER_JS], serverEnv(logFile), tempDir('cwd'));
    const exit = await waitForExit(child);
    assert.equal(exit.code, 1, child.output());
    assert.match(child.stderr(), /LOG_FILE .*app\.log: exists and is not a link/);
    assert.equal(readFileSync(logFile, 'utf8'), 'not ours\n');
  });

  test('a size that is not one is a configuration error naming the variable', () => {
    assert.throws(() => loadConfig({ LOG_FILE: 'x.log', LOG_FILE_MAX_SIZE: '10 MB' }, { persistSecret: false }), /LOG_FILE_MAX_SIZE/);
    const config = loadConfig({ LOG_FILE: 'x.log', LOG_FILE_MAX_SIZE: '500K' }, { persistSecret: false });
    assert.equal(config.logFile?.maxSize, '500k');
    assert.equal(loadConfig({}, { persistSecret: false }).logFile, null);
  });
});
