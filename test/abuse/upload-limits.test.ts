/**
 * Bodies over the limit are refused as soon as the limit is crossed: a 1 GB upload, streamed from a
 * generator, is answered 413 after at most MAX_FILE_SIZE + 1 MB has been read by the server, and
 * the connection is closed instead of being drained to the end.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { bearer, registerUser } from '../helpers/factory.js';

const MAX_FILE_SIZE = 4 * 1024 * 1024;
const SLACK = 1024 * 1024;
const ONE_GB = 1024 * 1024 * 1024;
const CHUNK = 64 * 1024;
const BOUNDARY = 'transcribo-abuse-boundary';

/** A 44-byte header of 16 kHz mono PCM, so the file sniffs as audio and is read as an upload. */
function wavHeader(): Buffer {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(0xffffffff, 4);
  header.write('WAVEfmt ', 8, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(16_000, 24);
  header.writeUInt32LE(32_000, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(0xffffffff, 40);
  return header;
}

interface Body {
  /** Bytes in all, for a content-length. */
  length: number;
  chunks: () => Generator<Buffer>;
}

/** `head`, then zeros up to `total` bytes, then `tail`: generated as it is sent, never held whole. */
function streamedBody(head: Buffer, total: number, tail: Buffer): Body {
  return {
    length: total,
    *chunks() {
      yield head;
      const zeros = Buffer.alloc(CHUNK);
      let left = total - head.length - tail.length;
      while (left > 0) {
        const n = Math.min(left, CHUNK);
        yield n === CHUNK ? zeros : zeros.subarray(0, n);
        left -= n;
      }
      yield tail;
    },
  };
}

function multipartUpload(fields: Record<string, string> = {}): Body {
  const parts = Object.entries(fields).map(
    ([name, value]) => `--${BOUNDARY}\r\ncontent-disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
  );
  const head = Buffer.concat([
    Buffer.from(
      `${parts.join('')}--${BOUNDARY}\r\ncontent-disposition: form-data; name="file"; filename="big.wav"\r\n` +
        'content-type: audio/wav\r\n\r\n',
    ),
    wavHeader(),
  ]);
  return streamedBody(head, ONE_GB, Buffer.from(`\r\n--${BOUNDARY}--\r\n`));
}

interface Outcome {
  status: number | null;
  body: string;
  /** Bytes the client handed to its socket before the server answered or hung up. */
  written: number;
  /** Bytes the server read from this connection, counted on its own socket. */
  serverRead: number;
  /** The response's connection header: `close` says the server hangs up instead of reading on. */
  connection: string | undefined;
}

/**
 * Sends `body` as fast as the connection takes it, stopping at the server's answer or hang-up.
 * Settles once the server's side of the connection is closed, so its byte count is final.
 */
async function send(
  app: TestApp,
  url: string,
  headers: Record<string, string>,
  body: Body,
  options: { chunked: boolean },
): Promise<Outcome> {
  const server = app.app.server;
  const { port } = server.address() as AddressInfo;
  const serverSocket = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const serverClosed = serverSocket.then(
    (socket) => new Promise<number>((resolve) => socket.once('close', () => resolve(socket.bytesRead))),
  );
  let written = 0;
  let stopped = false;
  let status: number | null = null;
  let text = '';
  let connection: string | undefined;
  const req = httpRequest({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: url,
    agent: false,
    headers: {
      ...headers,
      ...(options.chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(body.length) }),
    },
  });
  const answered = new Promise<void>((resolve) => {
    req.on('response', (res) => {
      stopped = true;
      status = res.statusCode ?? null;
      connection = res.headers.connection;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', resolve);
      res.on('error', () => resolve());
      res.on('close', resolve);
    });
    req.on('error', () => {
      stopped = true;
      resolve();
    });
    req.on('close', () => {
      stopped = true;
    });
  });
  for (const chunk of body.chunks()) {
    if (stopped) break;
    const flushed = new Promise<boolean>((resolve) => {
      req.write(chunk, (error) => {
        if (!error) written += chunk.length;
        resolve(!error);
      });
    });
    if (!(await Promise.race([flushed, answered.then(() => false)]))) break;
  }
  if (!stopped) req.end();
  await answered;
  req.destroy();
  return { status, body: text, written, serverRead: await serverClosed, connection };
}

function assertStoppedAtLimit(outcome: Outcome, limit: number): void {
  assert.equal(outcome.status, 413, `${outcome.status}: ${outcome.body}`);
  assert.ok(
    outcome.serverRead <= limit + SLACK,
    `the server read ${outcome.serverRead} bytes for a limit of ${limit}`,
  );
  assert.ok(outcome.written < ONE_GB / 8, `the client could write ${outcome.written} bytes`);
  assert.equal(outcome.connection, 'close');
}

describe('uploads over the limit', () => {
  let ctx: TestApp;
  let token: string;
  before(async () => {
    ctx = await startTestApp('postgres', { MAX_FILE_SIZE: String(MAX_FILE_SIZE) });
    await ctx.app.listen({ host: '127.0.0.1', port: 0 });
    token = (await registerUser(ctx.app, 'limits')).accessToken;
  });
  after(async () => ctx?.close());

  const multipartHeaders = () => ({ ...bearer(token), 'content-type': `multipart/form-data; boundary=${BOUNDARY}` });

  for (const chunked of [true, false]) {
    const how = chunked ? 'chunked' : 'with a content-length';
    test(`POST /api/v1/audio/upload, multipart ${how}: 413 once the limit is crossed`, async () => {
      const outcome = await send(ctx, '/api/v1/audio/upload', multipartHeaders(), multipartUpload({ title: 'big' }), {
        chunked,
      });
      assertStoppedAtLimit(outcome, MAX_FILE_SIZE);
      assert.equal(JSON.parse(outcome.body).code, 'payload_too_large');
    });

    test(`POST /v1/audio/transcriptions, multipart ${how}: 413 once the limit is crossed`, async () => {
      const outcome = await send(
        ctx,
        '/v1/audio/transcriptions',
        multipartHeaders(),
        multipartUpload({ model: 'sphinx' }),
        { chunked },
      );
      assertStoppedAtLimit(outcome, MAX_FILE_SIZE);
      assert.equal(JSON.parse(outcome.body).error.type, 'invalid_request_error');
    });

    test(`POST /api/v1/audio/upload, JSON ${how}: 413 once the limit is crossed`, async () => {
      const body = streamedBody(Buffer.from('{"title":"big","original_text":"'), ONE_GB, Buffer.from('"}'));
      const outcome = await send(
        ctx,
        '/api/v1/audio/upload',
        { ...bearer(token), 'content-type': 'application/json' },
        body,
        { chunked },
      );
      assertStoppedAtLimit(outcome, MAX_FILE_SIZE);
      assert.equal(JSON.parse(outcome.body).code, 'payload_too_large');
    });
  }

  test('a multipart text upload whose original_text never ends: 413 once the limit is crossed', async () => {
    const head = Buffer.from(
      `--${BOUNDARY}\r\ncontent-disposition: form-data; name="title"\r\n\r\nendless\r\n` +
        `--${BOUNDARY}\r\ncontent-disposition: form-data; name="original_text"\r\n\r\n`,
    );
    const body = streamedBody(head, ONE_GB, Buffer.from(`\r\n--${BOUNDARY}--\r\n`));
    const outcome = await send(ctx, '/api/v1/audio/upload', multipartHeaders(), body, { chunked: true });
    assertStoppedAtLimit(outcome, MAX_FILE_SIZE);
    assert.equal(JSON.parse(outcome.body).code, 'payload_too_large');
  });

  test('an unauthenticated 1 GB upload is refused without reading it', async () => {
    const outcome = await send(
      ctx,
      '/api/v1/audio/upload',
      { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
      multipartUpload(),
      { chunked: true },
    );
    assert.equal(outcome.status, 401, outcome.body);
    assert.ok(outcome.serverRead <= SLACK, `the server read ${outcome.serverRead} bytes`);
    assert.equal(outcome.connection, 'close');
  });

  test('the server still answers on new connections afterwards', async () => {
    const res = await ctx.app.inject({ method: 'GET', url: '/api/v1/health/liveness' });
    assert.equal(res.statusCode, 200);
  });
});
