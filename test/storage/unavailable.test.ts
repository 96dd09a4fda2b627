/**
 * A blob store that cannot be used is 503 storage_unavailable with Retry-After, never a 500: a local
 * folder made unusable, and an S3 endpoint that refuses connections.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { AppError } from '../../src/http/errors.js';
import { LocalBlobStore } from '../../src/storage/local.js';
import { S3BlobStore } from '../../src/storage/s3.js';
import { describeEachDatabase } from '../helpers/app.js';
import { audioForm, shortClip } from '../helpers/audio.js';
import { bearer, registerUser } from '../helpers/factory.js';
import { freePort } from '../helpers/server-process.js';

// Nothing listens here: the port was free a moment ago, and connections to it are refused.
const CLOSED_PORT = await freePort();

function isStorageUnavailable(error: unknown): boolean {
  return (
    error instanceof AppError &&
    error.code === 'storage_unavailable' &&
    error.status === 503 &&
    Number(error.headers?.['retry-after']) > 0 &&
    !/\/|127\.0\.0\.1/.test(error.message) // no paths or hosts for clients; they are in the cause
  );
}

/** Replaces a folder with a plain file: unusable even for root, whom permissions do not stop. */
async function spoil(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await writeFile(dir, 'not a folder');
}

async function restore(dir: string): Promise<void> {
  await rm(dir, { force: true });
  await mkdir(dir, { recursive: true });
}

describe('blob stores that cannot be used', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'transcribo-unusable-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('a local folder replaced by a file: writes, reads, stat and delete are storage_unavailable', async () => {
    const dir = path.join(root, 'spoiled');
    const store = new LocalBlobStore(dir);
    await store.put('a/one.bin', Readable.from([Buffer.from('one')]));
    await spoil(dir);
    await assert.rejects(store.put('a/two.bin', Readable.from([Buffer.from('two')])), isStorageUnavailable);
    const staged = path.join(root, 'staged.bin');
    await writeFile(staged, 'three');
    await assert.rejects(store.putFile('a/three.bin', staged), isStorageUnavailable);
    await assert.rejects(store.get('a/one.bin'), isStorageUnavailable);
    await assert.rejects(store.stat('a/one.bin'), isStorageUnavailable);
    await assert.rejects(store.delete('a/one.bin'), isStorageUnavailable);
  });

  test('a local folder removed behind the store’s back is made again on the next write', async () => {
    const dir = path.join(root, 'removed');
    const store = new LocalBlobStore(dir);
    await store.put('first.bin', Readable.from([Buffer.from('1')]));
    await rm(dir, { recursive: true });
    await store.put('second.bin', Readable.from([Buffer.from('2')]));
    assert.equal(await readFile(path.join(dir, 'second.bin'), 'utf8'), '2');
  });

  test('the body’s own failure passes as it is, not as the store’s', async () => {
    const store = new LocalBlobStore(path.join(root, 'body'));
    const broken = new Readable({
      read() {
        this.destroy(Object.assign(new Error('client went away'), { code: 'ECONNRESET' }));
      },
    });
    await assert.rejects(store.put('x.bin', broken), (error: unknown) => error instanceof Error && /client went away/.test(error.message));
  });

  test('an S3 endpoint that refuses connections: put, get, stat and delete are storage_unavailable', async () => {
    const store = new S3BlobStore({
      backend: 's3',
      bucket: 'nowhere',
      endpoint: `http://127.0.0.1:${CLOSED_PORT}`,
      region: 'us-east-1',
      accessKeyId: 'key',
      secretAccessKey: 'secret',
      forcePathStyle: true,
    });
    try {
      await assert.rejects(store.put('a.bin', Readable.from([Buffer.from('a')])), isStorageUnavailable);
      await assert.rejects(store.get('a.bin'), isStorageUnavailable);
      await assert.rejects(store.stat('a.bin'), isStorageUnavailable);
      await assert.rejects(store.delete('a.bin'), isStorageUnavailable);
    } finally {
      store.destroy();
    }
  });
});

/** POST /api/v1/audio/upload of a real 3 s clip. */
async function upload(accessToken: string) {
  return {
    method: 'POST' as const,
    url: '/api/v1/audio/upload',
    headers: bearer(accessToken),
    payload: audioForm(await readFile(shortClip().wavPath), 'clip.wav'),
  };
}

describeEachDatabase('upload into a local store whose folder is unusable', (ctx) => {
  test('503 storage_unavailable with Retry-After; nothing is recorded; works again once the folder is back', async () => {
    const { app, config } = ctx();
    assert.equal(config.storage.backend, 'local');
    const dir = config.storage.backend === 'local' ? config.storage.dir : '';
    const user = await registerUser(app);
    await spoil(dir);
    try {
      const res = await app.inject(await upload(user.accessToken));
      assert.equal(res.statusCode, 503, res.body);
      assert.equal(res.json().code, 'storage_unavailable');
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      assert.ok(Number(res.headers['retry-after']) > 0, `retry-after: ${String(res.headers['retry-after'])}`);
      const list = await app.inject({ method: 'GET', url: '/api/v1/audio/', headers: bearer(user.accessToken) });
      assert.equal(list.json().items.length, 0);
    } finally {
      await restore(dir);
    }
    const again = await app.inject(await upload(user.accessToken));
    assert.equal(again.statusCode, 201, again.body);
  });
});

describeEachDatabase(
  'upload into an S3 store whose endpoint refuses connections',
  (ctx) => {
    test('503 storage_unavailable with Retry-After, on /api/v1 and on /v1 (in OpenAI’s shape)', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const res = await app.inject(await upload(user.accessToken));
      assert.equal(res.statusCode, 503, res.body);
      assert.equal(res.json().code, 'storage_unavailable');
      assert.ok(Number(res.headers['retry-after']) > 0, `retry-after: ${String(res.headers['retry-after'])}`);

      const form = audioForm(await readFile(shortClip().wavPath), 'clip.wav', { model: 'sphinx' });
      const openai = await app.inject({ method: 'POST', url: '/v1/audio/transcriptions', headers: bearer(user.accessToken), payload: form });
      assert.equal(openai.statusCode, 503, openai.body);
      assert.equal(openai.json().error.code, 'storage_unavailable');
      assert.equal(openai.json().error.type, 'server_error');
      assert.ok(Number(openai.headers['retry-after']) > 0);
    });
  },
  {
    S3_BUCKET: 'nowhere',
    S3_ENDPOINT: `http://127.0.0.1:${CLOSED_PORT}`,
    S3_ACCESS_KEY_ID: 'key',
    S3_SECRET_ACCESS_KEY: 'secret',
  },
);
