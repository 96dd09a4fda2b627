/**
 * The scanner's policy and the clamd reply parser, without clamd: fake clamd servers on 127.0.0.1
 * that answer badly or not at all (the real one is in uploads.test.ts).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, test } from 'node:test';
import { pino } from 'pino';
import { ConfigError, loadConfig } from '../../src/config.js';
import { AppError } from '../../src/http/errors.js';
import { ClamdSizeLimitError, ClamdUnavailableError, parseClamdUrl, verdict } from '../../src/scanning/clamd.js';
import { ClamavUploadScanner } from '../../src/scanning/upload-scanner.js';

const servers: net.Server[] = [];
after(() => {
  for (const server of servers) server.close();
});

/** A fake clamd: `onConnection` decides what it does with each connection; counts them. */
async function fakeClamd(onConnection: (socket: net.Socket) => void): Promise<{ url: string; connections: () => number }> {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    onConnection(socket);
  });
  server.on('close', () => sockets.forEach((s) => s.destroy()));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return { url: `tcp://127.0.0.1:${port}`, connections: () => connections };
}

/** Answers `reply` once the stream's zero-length terminator has arrived, as clamd does. */
function answerAtEnd(reply: string) {
  return (socket: net.Socket) => {
    let received = Buffer.alloc(0);
    socket.on('data', (data: Buffer) => {
      received = Buffer.concat([received, data]);
      if (received.length > 'zINSTREAM\0'.length && received.subarray(-4).equals(Buffer.alloc(4))) socket.end(`${reply}\0`);
    });
  };
}

function scanner(url: string, options: { streamMaxBytes?: number; failOpen?: boolean; timeoutMs?: number } = {}) {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
  const instance = new ClamavUploadScanner(
    { url, timeoutMs: options.timeoutMs ?? 5_000, streamMaxBytes: options.streamMaxBytes ?? 1024, failOpen: options.failOpen ?? false },
    log,
  );
  return { instance, lines };
}

const code = (expected: string) => (error: unknown) => error instanceof AppError && error.code === expected;

test("clamd's replies: clean, a signature, the size limit, and anything else", () => {
  assert.deepEqual(verdict('stream: OK'), { clean: true });
  assert.deepEqual(verdict('stream: Win.Test.EICAR_HDB-1 FOUND'), { clean: false, signature: 'Win.Test.EICAR_HDB-1' });
  assert.throws(() => verdict('INSTREAM size limit exceeded. ERROR'), ClamdSizeLimitError);
  assert.throws(() => verdict("Can't allocate memory ERROR"), ClamdUnavailableError);
  assert.throws(() => verdict(''), ClamdUnavailableError);
});

test('CLAMAV_URL: tcp, unix and bare socket paths; anything else stops the start with the variable named', () => {
  assert.deepEqual(parseClamdUrl('tcp://clamav:3310'), { host: 'clamav', port: 3310 });
  assert.deepEqual(parseClamdUrl('unix:///run/clamav/clamd.sock'), { path: '/run/clamav/clamd.sock' });
  assert.deepEqual(parseClamdUrl('/run/clamav/clamd.sock'), { path: '/run/clamav/clamd.sock' });
  const base = { ENVIRONMENT: 'test', SECRET_KEY: 'x'.repeat(40), DATA_DIR: '/tmp/transcribo-clamav-config' };
  assert.equal(loadConfig(base, { persistSecret: false }).clamav, null);
  assert.deepEqual(loadConfig({ ...base, CLAMAV_URL: 'tcp://clamav:3310' }, { persistSecret: false }).clamav, {
    url: 'tcp://clamav:3310',
    timeoutMs: 30_000,
    streamMaxBytes: 25 * 1024 * 1024,
    failOpen: false,
  });
  for (const bad of ['clamav:3310', 'http://clamav:3310', 'tcp://clamav', 'unix://']) {
    assert.throws(
      () => loadConfig({ ...base, CLAMAV_URL: bad }, { persistSecret: false }),
      (error: unknown) => error instanceof ConfigError && error.problems.some((p) => p.startsWith('CLAMAV_URL must be')),
      bad,
    );
  }
});

test('an upload over CLAMAV_STREAM_MAX_BYTES is refused (413) without a byte sent; fail-open passes it with a warning', async () => {
  const clamd = await fakeClamd(answerAtEnd('stream: OK'));
  const closed = scanner(clamd.url, { streamMaxBytes: 10 });
  await assert.rejects(closed.instance.scanBytes(Buffer.alloc(11)), code('scan_size_exceeded'));
  assert.equal(clamd.connections(), 0);

  const open = scanner(clamd.url, { streamMaxBytes: 10, failOpen: true });
  await open.instance.scanBytes(Buffer.alloc(11));
  assert.equal(clamd.connections(), 0);
  assert.ok(open.lines.some((line) => line.includes('stored unscanned')));
  // At the limit, it is scanned.
  await closed.instance.scanBytes(Buffer.alloc(10));
  assert.equal(clamd.connections(), 1);
});

test('a clamd that never answers (CLAMAV_TIMEOUT_MS) or answers with an error is 503 scanner_unavailable', async () => {
  const silent = await fakeClamd((socket) => socket.resume());
  await assert.rejects(scanner(silent.url, { timeoutMs: 200 }).instance.scanBytes(Buffer.from('hello')), code('scanner_unavailable'));
  const failing = await fakeClamd(answerAtEnd("Can't allocate memory ERROR"));
  await assert.rejects(scanner(failing.url).instance.scanBytes(Buffer.from('hello')), code('scanner_unavailable'));
  const open = scanner(failing.url, { failOpen: true });
  await open.instance.scanBytes(Buffer.from('hello'));
  assert.ok(open.lines.some((line) => line.includes('stored unscanned')));
});
