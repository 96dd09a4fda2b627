import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ensureModel, isVerified, ModelUnavailableError } from '../../../src/transcription/models/download.js';
import type { NamedModel } from '../../../src/transcription/models/registry.js';

const body = randomBytes(300_000);
const sha1 = createHash('sha1').update(body).digest('hex');
const requests = new Map<string, number>();
let server: Server;
let baseUrl: string;
const dirs: string[] = [];

function entry(name: string, checksum = sha1): NamedModel {
  return { name, file: `ggml-${name}.bin`, sha1: checksum, approxMiB: 1, englishOnly: false };
}

function modelsDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'transcribo-models-'));
  dirs.push(dir);
  return dir;
}

before(async () => {
  server = createServer((req, res) => {
    const url = req.url ?? '/';
    requests.set(url, (requests.get(url) ?? 0) + 1);
    const send = () => {
      if (url.startsWith('/ggml-good') || url.startsWith('/ggml-wrong') || url.startsWith('/ggml-shared')) {
        res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
        // Several writes so the client sees the body arrive in pieces.
        for (let i = 0; i < body.length; i += 64 * 1024) res.write(body.subarray(i, i + 64 * 1024));
        res.end();
      } else if (url.startsWith('/ggml-truncated')) {
        res.writeHead(200, { 'content-length': body.length });
        res.write(body.subarray(0, body.length / 3), () => res.destroy());
      } else if (url.startsWith('/ggml-slow')) {
        res.writeHead(200, { 'content-length': body.length });
        res.write(body.subarray(0, 1000));
        // Never finishes: the client has to give up.
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('Entry not found');
      }
    };
    // A little latency so concurrent callers overlap.
    setTimeout(send, url.startsWith('/ggml-shared') ? 100 : 0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

test('downloads a model, verifies it, leaves no .part and does not fetch it again', async () => {
  const dir = modelsDir();
  const lines: string[] = [];
  const model = entry('good');
  const file = await ensureModel(model, { modelsDir: dir, baseUrl, log: (_level, line) => lines.push(line) });
  assert.equal(file, path.join(dir, 'ggml-good.bin'));
  assert.deepEqual(readFileSync(file), body);
  assert.equal(existsSync(`${file}.part`), false);
  assert.equal(await isVerified(model, dir), true);
  assert.ok(lines.some((line) => /ggml-good\.bin: [\d.]+ of [\d.]+ MB \(\d+%\), [\d.]+ MB\/s/.test(line)), lines.join('\n'));

  assert.equal(await ensureModel(model, { modelsDir: dir, baseUrl }), file);
  assert.equal(requests.get('/ggml-good.bin'), 1);
});

test('a response cut short is an error and leaves neither the file nor a .part', async () => {
  const dir = modelsDir();
  await assert.rejects(ensureModel(entry('truncated'), { modelsDir: dir, baseUrl }), (error: unknown) => {
    assert.ok(error instanceof ModelUnavailableError, String(error));
    assert.match(error.message, new RegExp(`${baseUrl}/ggml-truncated\\.bin`));
    assert.match(error.message, /after \d+ of 300000 bytes/);
    return true;
  });
  assert.deepEqual(readdirSync(dir), []);
});

test('a checksum mismatch is an error naming the checksum, and nothing is kept', async () => {
  const dir = modelsDir();
  const model = entry('wrong', '0'.repeat(40));
  await assert.rejects(ensureModel(model, { modelsDir: dir, baseUrl }), (error: unknown) => {
    assert.ok(error instanceof ModelUnavailableError);
    assert.match(error.message, /checksum mismatch/);
    assert.match(error.message, new RegExp(sha1));
    return true;
  });
  assert.deepEqual(readdirSync(dir), []);
});

test('a 404 names the URL and how to supply the file by hand', async () => {
  const dir = modelsDir();
  await assert.rejects(ensureModel(entry('missing'), { modelsDir: dir, baseUrl }), (error: unknown) => {
    assert.ok(error instanceof ModelUnavailableError);
    assert.match(error.message, /HTTP 404/);
    assert.ok(error.message.includes(`${baseUrl}/ggml-missing.bin`), error.message);
    assert.ok(error.message.includes(path.join(dir, 'ggml-missing.bin')), error.message);
    assert.match(error.message, /WHISPER_MODEL/);
    assert.match(error.message, /npm run models -- download missing/);
    return true;
  });
  assert.deepEqual(readdirSync(dir), []);
});

test('an unreachable server is a ModelUnavailableError too', async () => {
  const dir = modelsDir();
  // A port that was just free: the connection is refused at once.
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const url = `http://127.0.0.1:${port}`;
  await assert.rejects(ensureModel(entry('good'), { modelsDir: dir, baseUrl: url }), (error: unknown) => {
    assert.ok(error instanceof ModelUnavailableError);
    assert.ok(error.message.includes(`${url}/ggml-good.bin`), error.message);
    assert.match(error.message, /ECONNREFUSED/);
    return true;
  });
  assert.deepEqual(readdirSync(dir), []);
});

test('concurrent calls for one model share a single download', async () => {
  const dir = modelsDir();
  const model = entry('shared');
  const [a, b, c] = await Promise.all([
    ensureModel(model, { modelsDir: dir, baseUrl }),
    ensureModel(model, { modelsDir: dir, baseUrl }),
    ensureModel(model, { modelsDir: dir, baseUrl }),
  ]);
  assert.equal(a, b);
  assert.equal(b, c);
  assert.equal(requests.get('/ggml-shared.bin'), 1);
  assert.deepEqual(readFileSync(a), body);
});

test('aborting a download rejects with the abort reason and removes the .part', async () => {
  const dir = modelsDir();
  const controller = new AbortController();
  const pending = ensureModel(entry('slow'), { modelsDir: dir, baseUrl, signal: controller.signal });
  setTimeout(() => controller.abort(), 100);
  await assert.rejects(pending, { name: 'AbortError' });
  // The shared download notices the abort a moment later; it must clean up after itself.
  for (let i = 0; i < 50 && readdirSync(dir).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(readdirSync(dir), []);
});

test('a file already present is hashed once, then trusted; a wrong one is refused, not overwritten', async () => {
  const dir = modelsDir();
  const model = entry('present');
  const file = path.join(dir, model.file);
  writeFileSync(file, body);
  assert.equal(await ensureModel(model, { modelsDir: dir, baseUrl }), file);
  assert.equal(requests.get('/ggml-present.bin'), undefined);
  assert.ok(existsSync(`${file}.sha1`));
  assert.equal(await isVerified(model, dir), true);

  const other = entry('other');
  const otherFile = path.join(dir, other.file);
  writeFileSync(otherFile, Buffer.from('not the model'));
  await assert.rejects(ensureModel(other, { modelsDir: dir, baseUrl }), (error: unknown) => {
    assert.ok(error instanceof ModelUnavailableError);
    assert.match(error.message, /SHA-1/);
    assert.match(error.message, /Delete it/);
    return true;
  });
  assert.equal(readFileSync(otherFile, 'utf8'), 'not the model');
});

test('a path is used as is, and a missing one is a ModelUnavailableError', async () => {
  const dir = modelsDir();
  const file = path.join(dir, 'custom.bin');
  writeFileSync(file, 'x');
  assert.equal(await ensureModel(file, { modelsDir: dir, baseUrl }), file);
  await assert.rejects(ensureModel(path.join(dir, 'nope.bin'), { modelsDir: dir, baseUrl }), (error: unknown) => {
    assert.ok(error instanceof ModelUnavailableError);
    assert.match(error.message, /nope\.bin does not exist/);
    return true;
  });
});
