import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deliverDue, WebhookDispatcher } from '../../src/webhooks/delivery.js';
import { verify } from '../../src/webhooks/signing.js';
import { deliveriesOf, describeWebhooks, emit, makeDue, newUser, receiver, settleOthers } from './webhooks-fixture.js';

describeWebhooks((ctx) => {
  test('a 500, a 500, then a 200: delivered after 3 attempts with one webhook-id and valid signatures', async () => {
    const { db, service } = ctx();
    await settleOthers(db);
    const userId = await newUser(db);
    const server = await receiver([500, 500, 200]);
    try {
      const hook = await service.create(userId, { url: server.url, events: ['transcription.completed'] });
      await emit(db, userId, 'transcription.completed', { transcription_id: 't-42', text: 'hola' });
      const options = { allowPrivate: true, timeoutMs: 2_000, maxAttempts: 5 };

      const first = await deliverDue(db, options);
      assert.deepEqual(first, { claimed: 1, delivered: 0, retrying: 1, failed: 0 });
      let [row] = await deliveriesOf(db, userId);
      assert.equal(row!.status, 'pending');
      assert.equal(row!.attempts, 1);
      assert.equal(row!.last_status_code, 500);
      assert.equal(row!.last_error, 'HTTP 500');
      assert.deepEqual(await deliverDue(db, options), { claimed: 0, delivered: 0, retrying: 0, failed: 0 }, 'not due yet: backoff');

      await makeDue(db, userId);
      await deliverDue(db, options);
      await makeDue(db, userId);
      const third = await deliverDue(db, options);
      assert.deepEqual(third, { claimed: 1, delivered: 1, retrying: 0, failed: 0 });

      [row] = await deliveriesOf(db, userId);
      assert.equal(row!.status, 'delivered');
      assert.equal(row!.attempts, 3);
      assert.equal(row!.last_status_code, 200);
      assert.equal(row!.last_error, null);
      assert.ok(row!.delivered_at);

      assert.equal(server.received.length, 3);
      const ids = new Set(server.received.map((r) => r.headers['webhook-id']));
      assert.deepEqual([...ids], [row!.message_id], 'the same webhook-id on every try');
      for (const request of server.received) {
        assert.equal(request.headers['content-type'], 'application/json');
        const timestamp = String(request.headers['webhook-timestamp']);
        assert.match(timestamp, /^\d+$/);
        assert.ok(
          verify(hook.secret, row!.message_id, timestamp, request.body, String(request.headers['webhook-signature'])),
          'the receiver verifies the signature with the secret',
        );
        const body = JSON.parse(request.body);
        assert.equal(body.type, 'transcription.completed');
        assert.deepEqual(body.data, { transcription_id: 't-42', text: 'hola' });
        assert.ok(!Number.isNaN(Date.parse(body.timestamp)));
      }
      assert.equal(server.received[0]!.body, server.received[2]!.body, 'the body is stable across retries');

      const listed = await service.deliveries(userId, hook.id, { limit: 20 });
      assert.equal(listed.items[0]!.status, 'delivered');
      assert.equal(listed.items[0]!.attempts, 3);
    } finally {
      await server.close();
    }
  });

  test('a receiver that never answers: the attempt times out and is recorded with an error', async () => {
    const { db, service } = ctx();
    await settleOthers(db);
    const userId = await newUser(db);
    const server = await receiver([null]);
    try {
      await service.create(userId, { url: server.url, events: ['chat.completed'] });
      await emit(db, userId, 'chat.completed', { session_id: 's' });
      const started = Date.now();
      const result = await deliverDue(db, { allowPrivate: true, timeoutMs: 200, maxAttempts: 5 });
      assert.ok(Date.now() - started < 5_000);
      assert.deepEqual(result, { claimed: 1, delivered: 0, retrying: 1, failed: 0 });
      const [row] = await deliveriesOf(db, userId);
      assert.equal(row!.status, 'pending');
      assert.equal(row!.attempts, 1);
      assert.equal(row!.last_status_code, null);
      assert.match(row!.last_error ?? '', /timed out after 200 ms/);
    } finally {
      await server.close();
    }
  });

  test('maxAttempts exhausted: the delivery ends failed; the URL guard is re-checked at delivery time', async () => {
    const { db, service } = ctx();
    await settleOthers(db);
    const userId = await newUser(db);
    const server = await receiver([503]);
    try {
      await service.create(userId, { url: server.url, events: ['summary.completed'] });
      await emit(db, userId, 'summary.completed', {});
      const options = { allowPrivate: true, timeoutMs: 2_000, maxAttempts: 2 };
      await deliverDue(db, options);
      await makeDue(db, userId);
      assert.deepEqual(await deliverDue(db, options), { claimed: 1, delivered: 0, retrying: 0, failed: 1 });
      const [row] = await deliveriesOf(db, userId);
      assert.equal(row!.status, 'failed');
      assert.equal(row!.attempts, 2);
      assert.equal(row!.last_status_code, 503);
      await makeDue(db, userId);
      assert.equal((await deliverDue(db, options)).claimed, 0, 'failed deliveries are never retried');

      // Created while private targets were allowed, delivered by a dispatcher that refuses them.
      await emit(db, userId, 'summary.completed', { again: true });
      const refused = await deliverDue(db, { allowPrivate: false, timeoutMs: 2_000, maxAttempts: 1 });
      assert.deepEqual(refused, { claimed: 1, delivered: 0, retrying: 0, failed: 1 });
      const rows = await deliveriesOf(db, userId);
      assert.match(rows[1]!.last_error ?? '', /loopback/);
      assert.equal(server.received.length, 2, 'the refused delivery never reached the receiver');
    } finally {
      await server.close();
    }
  });

  test('WebhookDispatcher delivers on its interval and stops cleanly', async () => {
    const { db, service } = ctx();
    await settleOthers(db);
    const userId = await newUser(db);
    const server = await receiver([204]);
    const dispatcher = new WebhookDispatcher(db, { allowPrivate: true, timeoutMs: 2_000, maxAttempts: 3, intervalMs: 20 });
    try {
      await service.create(userId, { url: server.url, events: ['chat.completed'] });
      await emit(db, userId, 'chat.completed', { n: 1 });
      dispatcher.start();
      for (let i = 0; i < 100 && (await deliveriesOf(db, userId))[0]?.status !== 'delivered'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal((await deliveriesOf(db, userId))[0]?.status, 'delivered');
    } finally {
      await dispatcher.stop();
      await server.close();
    }
  });
});
