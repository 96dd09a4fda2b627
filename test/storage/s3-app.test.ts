/** The whole audio path with S3_BUCKET set: upload, Range reads, a transcription and delete, on s3rver. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { describeEachDatabase } from '../helpers/app.js';
import { audioForm, shortClip } from '../helpers/audio.js';
import { bearer, registerUser } from '../helpers/factory.js';
import { freePort } from '../helpers/server-process.js';

interface S3rver {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
const S3rver = createRequire(import.meta.url)('s3rver') as new (options: {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
}) => S3rver;

const BUCKET = 'transcribo-app';
// s3rver does not check signatures; these only have to be present.
const KEY_ID = 'S3RVER';
const SECRET = 'S3RVER';
// Chosen before the suites are declared, because their config names the endpoint.
const PORT = await freePort();

let server: S3rver;
let directory: string;
before(async () => {
  directory = await mkdtemp(path.join(os.tmpdir(), 'transcribo-s3app-'));
  server = new S3rver({ address: '127.0.0.1', port: PORT, directory, silent: true });
  await server.run();
  await client().send(new CreateBucketCommand({ Bucket: BUCKET }));
});
after(async () => {
  await server.close();
  await rm(directory, { recursive: true, force: true });
});

function client(): S3Client {
  return new S3Client({
    endpoint: `http://127.0.0.1:${PORT}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: KEY_ID, secretAccessKey: SECRET },
  });
}

async function objectKeys(): Promise<string[]> {
  const listed = await client().send(new ListObjectsV2Command({ Bucket: BUCKET }));
  return (listed.Contents ?? []).map((o) => o.Key!);
}

describeEachDatabase(
  'audio on S3-compatible storage',
  (ctx) => {
    test('upload lands in the bucket, streams back with Range, transcribes, and delete removes the object', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const bytes = await readFile(shortClip().wavPath);
      const before = await objectKeys();
      const up = await app.inject({
        method: 'POST',
        url: '/api/v1/audio/upload',
        headers: bearer(user.accessToken),
        payload: audioForm(bytes, 'clip.wav'),
      });
      assert.equal(up.statusCode, 201, up.body);
      const id = up.json().id;
      const added = (await objectKeys()).filter((k) => !before.includes(k));
      assert.deepEqual(added, [`recordings/${user.userId}/${id}.wav`]);

      const part = await app.inject({
        method: 'GET',
        url: `/api/v1/audio/${id}/file`,
        headers: { ...bearer(user.accessToken), range: 'bytes=100-199' },
      });
      assert.equal(part.statusCode, 206);
      assert.ok(part.rawPayload.equals(bytes.subarray(100, 200)));

      const t = await app.inject({
        method: 'POST',
        url: `/api/v1/audio/${id}/transcribe?wait=120`,
        headers: bearer(user.accessToken),
      });
      assert.equal(t.statusCode, 200, t.body);
      assert.equal(t.json().status, 'completed');
      assert.ok(t.json().segments.length > 0);

      const ready = await app.inject({ method: 'GET', url: '/api/v1/health/readiness' });
      assert.equal(ready.json().checks.storage.status, 'ok');

      const del = await app.inject({ method: 'DELETE', url: `/api/v1/audio/${id}`, headers: bearer(user.accessToken) });
      assert.equal(del.statusCode, 204);
      assert.deepEqual(await objectKeys(), before);
    });
  },
  {
    S3_BUCKET: BUCKET,
    S3_ENDPOINT: `http://127.0.0.1:${PORT}`,
    S3_ACCESS_KEY_ID: KEY_ID,
    S3_SECRET_ACCESS_KEY: SECRET,
  },
  { startQueue: true },
);
