import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { createBlobStore } from '../../src/storage/index.js';
import { S3BlobStore, type S3StorageConfig } from '../../src/storage/s3.js';
import { blobStoreContract } from './contract.js';

// s3rver ships no type declarations; this is the part of it the tests use.
interface KoaContext {
  method: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  status: number;
  type: string;
  body: unknown;
}
type KoaMiddleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;
interface S3rver {
  /** Koa's middleware list, composed when the server starts listening. */
  middleware: KoaMiddleware[];
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverConstructor = new (options: {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
}) => S3rver;
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;

const BUCKET = 'transcribo-test';
const UPLOADS_DIR = '._S3rver_uploads';
const SLOW_COMMIT_MS = 300;

/**
 * s3rver 3.7 answers ListMultipartUploads with 501 and AbortMultipartUpload with 405, and keeps
 * unfinished uploads in `<dir>/<bucket>/._S3rver_uploads/<uploadId>/`. These two handlers fill the
 * gap from that folder, so the SDK's abort really removes the parts and the tests can list them.
 */
function multipartShim(directory: string): KoaMiddleware {
  return async (ctx, next) => {
    const [bucket, ...keyParts] = ctx.path.split('/').filter((part) => part !== '');
    if (!bucket) return next();
    const uploadsDir = path.join(directory, bucket, UPLOADS_DIR);
    if (ctx.method === 'GET' && keyParts.length === 0 && 'uploads' in ctx.query) {
      const prefix = typeof ctx.query.prefix === 'string' ? ctx.query.prefix : '';
      const uploads: { key: string; id: string }[] = [];
      for (const id of await readdir(uploadsDir).catch(() => [])) {
        const key = await readFile(path.join(uploadsDir, id, 'key'), 'utf8').catch(() => null);
        if (key !== null && key.startsWith(prefix)) uploads.push({ key, id });
      }
      ctx.status = 200;
      ctx.type = 'application/xml';
      ctx.body =
        '<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult>' +
        `<Bucket>${bucket}</Bucket><IsTruncated>false</IsTruncated>` +
        uploads.map((u) => `<Upload><Key>${u.key}</Key><UploadId>${u.id}</UploadId></Upload>`).join('') +
        '</ListMultipartUploadsResult>';
      return;
    }
    // Lets a test abort while a PutObject is being committed.
    if (ctx.method === 'PUT' && ctx.path.includes('/slow-commit/')) {
      await new Promise((resolve) => setTimeout(resolve, SLOW_COMMIT_MS));
    }
    const uploadId = ctx.query.uploadId;
    if (ctx.method === 'DELETE' && keyParts.length > 0 && typeof uploadId === 'string') {
      const dir = path.join(uploadsDir, path.basename(uploadId));
      const known = await readdir(dir).then(
        () => true,
        () => false,
      );
      if (!known) {
        ctx.status = 404;
        ctx.type = 'application/xml';
        ctx.body = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchUpload</Code></Error>';
        return;
      }
      await rm(dir, { recursive: true, force: true });
      ctx.status = 204;
      return;
    }
    return next();
  };
}

interface RunningS3rver {
  server: S3rver;
  endpoint: string;
  directory: string;
}

async function startS3rver(): Promise<RunningS3rver> {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'transcribo-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true });
  server.middleware.unshift(multipartShim(directory));
  const address = await server.run();
  return { server, endpoint: `http://127.0.0.1:${address.port}`, directory };
}

function storageConfig(endpoint: string, bucket = BUCKET): S3StorageConfig {
  return {
    backend: 's3',
    bucket,
    endpoint,
    region: 'us-east-1',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    forcePathStyle: true,
  };
}

/** A plain SDK client for what the store does not do: creating buckets, listing. */
function adminClient(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

let s3: RunningS3rver | undefined;
let admin: S3Client | undefined;
let store: S3BlobStore | undefined;

before(async () => {
  s3 = await startS3rver();
  admin = adminClient(s3.endpoint);
  await admin.send(new CreateBucketCommand({ Bucket: BUCKET }));
  store = new S3BlobStore(storageConfig(s3.endpoint));
});

after(async () => {
  store?.destroy();
  admin?.destroy();
  await s3?.server.close();
  if (s3) await rm(s3.directory, { recursive: true, force: true });
});

function running(): { s3: RunningS3rver; admin: S3Client; store: S3BlobStore } {
  if (!s3 || !admin || !store) throw new Error('s3rver not started');
  return { s3, admin, store };
}

describe('S3BlobStore contract (s3rver)', () => {
  blobStoreContract(() => {
    const { admin, store } = running();
    return {
      store,
      leftovers: async (key) => {
        const listed = await admin.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: key }));
        return (listed.Uploads ?? []).map((u) => `multipart upload ${u.UploadId} of ${u.Key}`);
      },
      listed: async (key) => {
        const listed = await admin.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: key }));
        return (listed.Contents ?? []).some((o) => o.Key === key);
      },
    };
  });
});

describe('S3BlobStore', () => {
  test('the multipart shim works: an unfinished upload is listed', async () => {
    const { admin } = running();
    const created = await admin.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'shim/probe' }));
    const listed = await admin.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: 'shim/' }));
    assert.deepEqual(
      (listed.Uploads ?? []).map((u) => [u.Key, u.UploadId]),
      [['shim/probe', created.UploadId]],
    );
    await admin.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: 'shim/probe', UploadId: created.UploadId }));
    const after = await admin.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: 'shim/' }));
    assert.equal(after.Uploads?.length ?? 0, 0);
  });

  test('createBlobStore makes an S3 store for the s3 backend', async () => {
    const made = await createBlobStore(storageConfig('http://127.0.0.1:1'));
    assert.ok(made instanceof S3BlobStore);
    assert.equal(made.kind, 's3');
    made.destroy();
  });

  test('bodies are stored as sent, without aws-chunked framing', async () => {
    const { s3, store } = running();
    const data = Buffer.from('plain bytes, no checksum trailer');
    await store.put('framing/plain.txt', Readable.from([data]));
    const onDisk = await readFile(path.join(s3.directory, BUCKET, 'framing', 'plain.txt._S3rver_object'));
    assert.deepEqual(onDisk, data);
  });

  test('an abort that comes while the object is being committed takes the object back', async () => {
    const { store } = running();
    const key = 'slow-commit/late.bin';
    const controller = new AbortController();
    const reason = new Error('cancelled during commit');
    const body = Readable.from([Buffer.from('all of it')]);
    // The body is fully read before PutObject is sent; s3rver holds that request for 300 ms.
    body.once('close', () => setTimeout(() => controller.abort(reason), 50));
    await assert.rejects(store.put(key, body, { signal: controller.signal }), (err) => err === reason);
    assert.equal(await store.stat(key), null);
  });

  test('ping rejects when the bucket does not exist', async () => {
    const { s3 } = running();
    const missing = new S3BlobStore(storageConfig(s3.endpoint, 'no-such-bucket'));
    try {
      await assert.rejects(missing.ping());
    } finally {
      missing.destroy();
    }
  });

  test('ping rejects once s3rver has stopped', async () => {
    const other = await startS3rver();
    const client = new S3BlobStore(storageConfig(other.endpoint));
    try {
      const admin = adminClient(other.endpoint);
      await admin.send(new CreateBucketCommand({ Bucket: BUCKET }));
      admin.destroy();
      await client.ping();
      await other.server.close();
      await assert.rejects(client.ping());
    } finally {
      client.destroy();
      await rm(other.directory, { recursive: true, force: true });
    }
  });
});
