import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { BlobNotFoundError } from '../../src/storage/blob-store.js';
import { createBlobStore } from '../../src/storage/index.js';
import { LocalBlobStore } from '../../src/storage/local.js';
import { blobStoreContract, generated, sha256Of } from './contract.js';

const MiB = 1024 * 1024;

let root: string;
before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'transcribo-blobs-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('LocalBlobStore contract', () => {
  let store: LocalBlobStore | undefined;
  before(() => {
    store = new LocalBlobStore(path.join(root, 'contract'));
  });
  blobStoreContract(() => {
    if (!store) throw new Error('store not created');
    const dir = store.dir;
    return {
      store,
      leftovers: async () => (existsSync(path.join(dir, '.tmp')) ? readdir(path.join(dir, '.tmp')) : []),
      listed: async (key) => {
        const files = await readdir(dir, { recursive: true, withFileTypes: true });
        return files.some((f) => f.isFile() && path.relative(dir, path.join(f.parentPath, f.name)) === key);
      },
    };
  });
});

describe('LocalBlobStore', () => {
  test('createBlobStore makes a local store for the local backend', async () => {
    const store = await createBlobStore({ backend: 'local', dir: path.join(root, 'factory') });
    assert.ok(store instanceof LocalBlobStore);
    assert.equal(store.kind, 'local');
  });

  test('files land at their key under the folder; delete removes folders it leaves empty', async () => {
    const dir = path.join(root, 'layout');
    const store = new LocalBlobStore(dir);
    await store.put('a/b/c.bin', Readable.from([Buffer.from('one')]));
    await store.put('a/keep.bin', Readable.from([Buffer.from('two')]));
    assert.equal((await stat(path.join(dir, 'a/b/c.bin'))).size, 3);
    await store.delete('a/b/c.bin');
    assert.equal(existsSync(path.join(dir, 'a/b')), false);
    assert.equal(existsSync(path.join(dir, 'a/keep.bin')), true);
    await store.delete('a/keep.bin');
    assert.equal(existsSync(path.join(dir, 'a')), false);
    assert.equal(existsSync(dir), true, 'the store folder itself stays');
  });

  test('a folder is not a blob', async () => {
    const store = new LocalBlobStore(path.join(root, 'folders'));
    await store.put('x/y.bin', Readable.from([Buffer.from('y')]));
    assert.equal(await store.stat('x'), null);
    await assert.rejects(store.get('x'), BlobNotFoundError);
    await store.delete('x');
    assert.deepEqual(await store.stat('x/y.bin'), { size: 1 });
    assert.equal(await store.stat('x/y.bin/z'), null);
  });

  test('keys inside the temp folder or with empty or dot segments are refused', async () => {
    const store = new LocalBlobStore(path.join(root, 'keys'));
    for (const key of ['.tmp/x', '.tmp', 'a//b', 'a/', './a', 'a/./b']) {
      await assert.rejects(store.stat(key), /unsafe blob key/, key);
      await assert.rejects(store.put(key, Readable.from([Buffer.from('x')])), /unsafe blob key/, key);
    }
  });

  test('stale temp files (over an hour old) are cleared on first use; fresh ones are kept', async () => {
    const dir = path.join(root, 'stale');
    await mkdir(path.join(dir, '.tmp'), { recursive: true });
    const old = path.join(dir, '.tmp', 'old.part');
    const fresh = path.join(dir, '.tmp', 'fresh.part');
    await writeFile(old, 'left by a crash');
    await writeFile(fresh, 'a write in progress');
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(old, twoHoursAgo, twoHoursAgo);
    const store = new LocalBlobStore(dir);
    await store.stat('anything');
    await store.ping();
    assert.equal(existsSync(old), false);
    assert.equal(existsSync(fresh), true);
  });

  test('ping fails when the folder cannot be created', async () => {
    const file = path.join(root, 'not-a-folder');
    await writeFile(file, 'x');
    const store = new LocalBlobStore(path.join(file, 'blobs'));
    await assert.rejects(store.ping());
    const body = Readable.from([Buffer.from('x')]);
    await assert.rejects(store.put('k', body));
    assert.ok(body.destroyed, 'a put that fails releases its body');
  });

  test('put streams: 64 MiB through put grows RSS by less than 48 MiB', async () => {
    const store = new LocalBlobStore(path.join(root, 'memory'));
    const total = 64 * MiB;
    const baseline = process.memoryUsage.rss();
    let peak = baseline;
    const sample = (): void => {
      peak = Math.max(peak, process.memoryUsage.rss());
    };
    const timer = setInterval(sample, 5);
    try {
      const stored = await store.put('big.bin', generated(total, { onProgress: sample }));
      assert.equal(stored.size, total);
    } finally {
      clearInterval(timer);
    }
    sample();
    const grewBy = peak - baseline;
    assert.ok(grewBy < 48 * MiB, `RSS grew by ${(grewBy / MiB).toFixed(1)} MiB`);
    const read = await store.get('big.bin');
    assert.deepEqual(await sha256Of(read.stream), await sha256Of(generated(total)));
  });
});
