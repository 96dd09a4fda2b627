import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Readable } from 'node:stream';
import { BlobNotFoundError, type BlobStore } from '../../src/storage/blob-store.js';

export interface ContractHarness {
  store: BlobStore;
  /** What failed puts left behind (temp files, unfinished multipart uploads) for `key`; [] when clean. */
  leftovers: (key: string) => Promise<string[]>;
  /** Whether a listing of the store (a folder walk, ListObjectsV2) shows `key`. */
  listed: (key: string) => Promise<boolean>;
}

const MiB = 1024 * 1024;

/** Deterministic bytes generated lazily: `total` bytes in `chunk`-sized pieces, never held whole. */
export function generated(
  total: number,
  options: { chunk?: number; seed?: number; failAfter?: number; error?: Error; onProgress?: (sent: number) => void } = {},
): Readable {
  const chunkSize = options.chunk ?? 64 * 1024;
  let sent = 0;
  let state = options.seed ?? 1;
  return new Readable({
    read() {
      if (options.failAfter !== undefined && sent >= options.failAfter) {
        this.destroy(options.error ?? new Error('body failed'));
        return;
      }
      if (sent >= total) {
        this.push(null);
        return;
      }
      const n = Math.min(chunkSize, total - sent);
      const chunk = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) {
        state = (state * 1103515245 + 12345) >>> 0;
        chunk[i] = state >>> 24;
      }
      sent += n;
      options.onProgress?.(sent);
      this.push(chunk);
    },
  });
}

export async function sha256Of(stream: Readable): Promise<{ hash: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { hash: hash.digest('hex'), size };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A body that never ends by itself: it waits `delayMs` between chunks until destroyed. */
function endless(onProgress: (sent: number) => void, chunk = 256 * 1024, delayMs = 1): Readable {
  let sent = 0;
  const piece = randomBytes(chunk);
  return new Readable({
    read() {
      setTimeout(() => {
        if (this.destroyed) return;
        sent += chunk;
        this.push(Buffer.from(piece));
        onProgress(sent);
      }, delayMs);
    },
  });
}

/**
 * Registers the BlobStore contract: every store must pass the same cases. `harness` is called
 * inside each test, after the suite's before() hooks have run.
 */
export function blobStoreContract(harness: () => ContractHarness): void {
  let counter = 0;
  const uniqueKey = (name: string): string => `contract/${Date.now().toString(36)}-${counter++}/${name}`;

  test('round trip of small binary data, with every byte value', async () => {
    const { store } = harness();
    const key = uniqueKey('bytes.bin');
    const data = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(1000)]);
    const stored = await store.put(key, Readable.from([data]), { contentType: 'audio/wav' });
    assert.deepEqual(stored, { key, size: data.length });
    const read = await store.get(key);
    assert.equal(read.size, data.length);
    assert.deepEqual(await readAll(read.stream), data);
    if (store.kind === 's3') assert.equal(read.contentType, 'audio/wav');
    else assert.equal(read.contentType, null);
  });

  test('round trip of an empty blob', async () => {
    const { store } = harness();
    const key = uniqueKey('empty');
    assert.deepEqual(await store.put(key, Readable.from([])), { key, size: 0 });
    assert.deepEqual(await store.stat(key), { size: 0 });
    const read = await store.get(key);
    assert.equal(read.size, 0);
    assert.equal((await readAll(read.stream)).length, 0);
  });

  test('a streamed body over 8 MiB (multipart on S3) arrives intact', async () => {
    const { store } = harness();
    const key = uniqueKey('large.bin');
    const total = 20 * MiB + 12345;
    const expected = await sha256Of(generated(total, { seed: 7 }));
    const stored = await store.put(key, generated(total, { seed: 7 }), { contentType: 'audio/flac' });
    assert.deepEqual(stored, { key, size: total });
    assert.deepEqual(await store.stat(key), { size: total });
    const read = await store.get(key);
    assert.equal(read.size, total);
    assert.deepEqual(await sha256Of(read.stream), expected);
  });

  test('range reads return exactly the asked bytes and the whole size', async () => {
    const { store } = harness();
    const key = uniqueKey('range.bin');
    const data = randomBytes(10_000);
    await store.put(key, Readable.from([data]));
    const cases = [
      { start: 0, end: 0 },
      { start: 0, end: 99 },
      { start: 4321, end: 5678 },
      { start: 9999, end: 9999 },
      { start: 9000, end: 9999 },
    ];
    for (const range of cases) {
      const read = await store.get(key, range);
      assert.equal(read.size, data.length, JSON.stringify(range));
      assert.deepEqual(await readAll(read.stream), data.subarray(range.start, range.end + 1), JSON.stringify(range));
    }
    // An end past the last byte is cut to the blob, like HTTP ranges.
    const tail = await store.get(key, { start: 9990, end: 20_000 });
    assert.equal(tail.size, data.length);
    assert.deepEqual(await readAll(tail.stream), data.subarray(9990));
    // A start past the end cannot be served.
    await assert.rejects(store.get(key, { start: 10_000, end: 10_010 }), RangeError);
    await assert.rejects(store.get(key, { start: 5, end: 4 }), RangeError);
  });

  test('stat gives the size, or null when absent; get of an absent key is BlobNotFoundError', async () => {
    const { store } = harness();
    const key = uniqueKey('stat.bin');
    assert.equal(await store.stat(key), null);
    await assert.rejects(store.get(key), (err: unknown) => err instanceof BlobNotFoundError && err.key === key);
    await store.put(key, Readable.from([Buffer.alloc(1234, 1)]));
    assert.deepEqual(await store.stat(key), { size: 1234 });
  });

  test('delete removes the blob; deleting twice or deleting the never-stored is fine', async () => {
    const { store } = harness();
    const key = uniqueKey('gone.bin');
    await store.put(key, Readable.from([Buffer.from('bye')]));
    await store.delete(key);
    assert.equal(await store.stat(key), null);
    await assert.rejects(store.get(key), BlobNotFoundError);
    await assert.rejects(store.get(key, { start: 0, end: 1 }), BlobNotFoundError);
    await store.delete(key);
    await store.delete(uniqueKey('never-stored'));
  });

  test('overwriting a key replaces its content', async () => {
    const { store } = harness();
    const key = uniqueKey('over.bin');
    await store.put(key, Readable.from([Buffer.from('first version, rather long')]));
    await store.put(key, Readable.from([Buffer.from('second')]));
    const read = await store.get(key);
    assert.equal(read.size, 6);
    assert.equal((await readAll(read.stream)).toString(), 'second');
  });

  for (const { label, total, failAfter } of [
    { label: 'small body', total: 1 * MiB, failAfter: 512 * 1024 },
    { label: 'multipart-sized body', total: 30 * MiB, failAfter: 18 * MiB },
  ]) {
    test(`a ${label} that errors halfway rejects with its error and leaves nothing`, async () => {
      const { store, leftovers } = harness();
      const key = uniqueKey('broken.bin');
      const boom = new Error('client went away');
      await assert.rejects(store.put(key, generated(total, { failAfter, error: boom })), (err) => err === boom);
      assert.equal(await store.stat(key), null);
      await assert.rejects(store.get(key), BlobNotFoundError);
      assert.equal(await harness().listed(key), false);
      assert.deepEqual(await leftovers(key), []);
    });
  }

  test('a failed overwrite keeps the previous content', async () => {
    const { store, leftovers } = harness();
    const key = uniqueKey('keep.bin');
    await store.put(key, Readable.from([Buffer.from('original')]));
    const boom = new Error('too large');
    await assert.rejects(store.put(key, generated(12 * MiB, { failAfter: 10 * MiB, error: boom })), (e) => e === boom);
    const read = await store.get(key);
    assert.equal((await readAll(read.stream)).toString(), 'original');
    assert.deepEqual(await leftovers(key), []);
  });

  test('an AbortSignal fired mid-upload rejects with its reason and leaves nothing', async () => {
    const { store, leftovers } = harness();
    const key = uniqueKey('aborted.bin');
    const controller = new AbortController();
    const reason = new Error('upload cancelled');
    const body = endless((sent) => {
      if (sent >= 12 * MiB && !controller.signal.aborted) controller.abort(reason);
    });
    await assert.rejects(store.put(key, body, { signal: controller.signal }), (err) => err === reason);
    assert.ok(body.destroyed, 'the body is released');
    assert.equal(await store.stat(key), null);
    assert.equal(await harness().listed(key), false);
    assert.deepEqual(await leftovers(key), []);
  });

  test('an AbortSignal fired as the body ends still leaves nothing', async () => {
    const { store, leftovers } = harness();
    const key = uniqueKey('late-abort.bin');
    const controller = new AbortController();
    const reason = new Error('cancelled at the last moment');
    const body = generated(3 * MiB);
    body.once('end', () => controller.abort(reason));
    await assert.rejects(store.put(key, body, { signal: controller.signal }), (err) => err === reason);
    assert.equal(await store.stat(key), null);
    assert.equal(await harness().listed(key), false);
    assert.deepEqual(await leftovers(key), []);
  });

  test('an AbortSignal already aborted rejects before anything is stored', async () => {
    const { store, leftovers } = harness();
    const key = uniqueKey('pre-aborted.bin');
    const reason = new Error('too late');
    await assert.rejects(
      store.put(key, Readable.from([Buffer.from('x')]), { signal: AbortSignal.abort(reason) }),
      (err) => err === reason,
    );
    assert.equal(await store.stat(key), null);
    assert.deepEqual(await leftovers(key), []);
  });

  test('unsafe keys are rejected by every method', async () => {
    const { store } = harness();
    for (const key of ['../x', '/abs', 'a/../../b', 'x y', '', 'a\\b', 'ü']) {
      const check = (err: unknown) => err instanceof Error && /unsafe blob key/.test(err.message);
      await assert.rejects(store.put(key, Readable.from([Buffer.from('x')])), check, `put ${key}`);
      await assert.rejects(store.get(key), check, `get ${key}`);
      await assert.rejects(store.stat(key), check, `stat ${key}`);
      await assert.rejects(store.delete(key), check, `delete ${key}`);
    }
  });

  test('ping succeeds on a working store', async () => {
    await harness().store.ping();
  });
}
