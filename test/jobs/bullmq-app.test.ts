import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { DB_KINDS } from '../helpers/databases.js';
import { audioForm, shortClip } from '../helpers/audio.js';
import { bearer, registerUser } from '../helpers/factory.js';
import { redisSkipReason, TEST_REDIS_URL, testQueues } from '../helpers/redis.js';

/*
 * The application with REDIS_URL set: transcriptions run through BullMQ, readiness checks Redis,
 * rate limits count in Redis, and admins see the queue at /admin/queues.
 */

// One prefix per database: two deployments sharing a prefix would take each other's jobs.
const prefixes = { postgres: testQueues() };
after(() => Promise.all(Object.values(prefixes).map((p) => p.cleanup())));

for (const kind of DB_KINDS) {
  const redis = prefixes[kind];
  describe(`the app on BullMQ [${kind}]`, { skip: redisSkipReason() }, () => {
    let current: TestApp | undefined;
    before(async () => {
      current = await startTestApp(kind, { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: redis.prefix }, { startQueue: true });
    });
    after(() => current?.close());
    const ctx = () => current!;

    test('a transcription runs through Redis, and the admin dashboard shows it', async () => {
      const { app } = ctx();
      const admin = await registerUser(app);
      const user = await registerUser(app);
      const up = await app.inject({
        method: 'POST',
        url: '/api/v1/audio/upload',
        headers: bearer(user.accessToken),
        payload: audioForm(await readFile(shortClip().wavPath), 'clip.wav'),
      });
      const done = await app.inject({ method: 'POST', url: `/api/v1/audio/${up.json().id}/transcribe?wait=60`, headers: bearer(user.accessToken) });
      assert.equal(done.statusCode, 200, done.body);
      assert.equal(done.json().status, 'completed');

      const board = await app.inject({ url: '/admin/queues/api/queues', headers: bearer(admin.accessToken) });
      assert.equal(board.statusCode, 200, board.body);
      const queue = board.json().queues.find((q: { name: string }) => q.name === 'jobs');
      assert.ok(queue, 'the jobs queue is listed');
      assert.equal(queue.readOnlyMode, true);
      assert.equal(queue.counts.completed, 1);
      const refused = await app.inject({ url: '/admin/queues/api/queues', headers: bearer(user.accessToken) });
      assert.equal(refused.statusCode, 403);

      const ready = await app.inject({ url: '/api/v1/health/readiness' });
      assert.equal(ready.statusCode, 200);
      assert.equal(ready.json().checks.redis.status, 'ok');
    });

    test('rate limits are counted in Redis, under the deployment prefix', async () => {
      const { app } = ctx();
      assert.equal((await app.inject({ url: '/api/v1/health/' })).statusCode, 200);
      const client = new Redis(TEST_REDIS_URL);
      try {
        const keys = await client.keys(`${redis.prefix}:rate-limit:*`);
        assert.ok(keys.length > 0, 'a counter exists in Redis');
      } finally {
        client.disconnect();
      }
    });
  });
}
