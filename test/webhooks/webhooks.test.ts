import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { sql } from 'drizzle-orm';
import Fastify from 'fastify';
import type { AppDatabase } from '../../src/db/client.js';
import { queryRows } from '../../src/db/client.js';
import { newId } from '../../src/db/ids.js';
import { asSystem, withUser } from '../../src/db/scope.js';
import { registerErrorHandling } from '../../src/http/error-handler.js';
import { AppError } from '../../src/http/errors.js';
import { deliverDue, WebhookDispatcher } from '../../src/webhooks/delivery.js';
import { webhookRoutes } from '../../src/webhooks/routes.js';
import { enqueueEvent, WebhookService } from '../../src/webhooks/service.js';
import { verify } from '../../src/webhooks/signing.js';
import { createTestDatabase, DB_KINDS, type TestDatabase } from '../helpers/databases.js';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** An HTTP receiver on 127.0.0.1 answering each request with the next status (the last repeats); null never answers. */
async function receiver(statuses: (number | null)[]) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      const status = statuses[Math.min(received.length - 1, statuses.length - 1)];
      if (status === null || status === undefined) return; // hang
      res.writeHead(status, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function newUser(db: AppDatabase): Promise<string> {
  const id = newId();
  await asSystem(db, 'test: a user', (tx) => tx.execute(sql`insert into users (id, email) values (${id}, ${`${id}@example.com`})`));
  return id;
}

interface DeliveryRow {
  id: string;
  status: string;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  message_id: string;
  delivered_at: Date | string | null;
}

function deliveriesOf(db: AppDatabase, userId: string): Promise<DeliveryRow[]> {
  return asSystem(db, 'test: what is stored', (tx) =>
    queryRows<DeliveryRow>(
      tx,
      sql`select id, status, attempts, last_status_code, last_error, message_id, delivered_at
          from webhook_deliveries where user_id = ${userId} order by id`,
    ),
  );
}

function makeDue(db: AppDatabase, userId: string) {
  return asSystem(db, 'test: skip the backoff', (tx) =>
    tx.execute(sql`update webhook_deliveries set next_attempt_at = now() where user_id = ${userId}`),
  );
}

/** Earlier tests leave deliveries to hosts that do not exist; each delivery test starts with none due. */
function settleOthers(db: AppDatabase) {
  return asSystem(db, 'test: a clean queue', (tx) =>
    tx.execute(sql`update webhook_deliveries set status = 'failed' where status = 'pending'`),
  );
}

function emit(db: AppDatabase, userId: string, event: Parameters<typeof enqueueEvent>[2], data: Record<string, unknown>) {
  return asSystem(db, 'test: a worker emits an event', (tx) => enqueueEvent(tx, userId, event, data));
}

for (const kind of DB_KINDS) {
  describe(`webhooks [${kind}]`, () => {
    let testDb: TestDatabase;
    let db: AppDatabase;
    let service: WebhookService;

    before(async () => {
      testDb = await createTestDatabase();
      db = testDb.database.db;
      service = new WebhookService(db, { allowPrivate: true });
    });
    after(async () => {
      await testDb?.drop();
    });

    test('create returns the secret once; list hides it; delete removes it', async () => {
      const userId = await newUser(db);
      const created = await service.create(userId, {
        url: 'https://hooks.example.com/in',
        events: ['transcription.completed', 'chat.completed', 'chat.completed'],
      });
      assert.match(created.secret, /^whsec_/);
      assert.deepEqual(created.events, ['transcription.completed', 'chat.completed']);
      assert.equal(created.disabled_at, null);
      const listed = await service.list(userId);
      assert.equal(listed.length, 1);
      assert.equal(listed[0]!.id, created.id);
      assert.equal('secret' in listed[0]!, false);
      assert.deepEqual(listed[0], { id: created.id, url: created.url, events: created.events, created_at: created.created_at, disabled_at: null });
      await service.delete(userId, created.id);
      assert.deepEqual(await service.list(userId), []);
      await assert.rejects(service.delete(userId, created.id), (e: unknown) => e instanceof AppError && e.status === 404);
    });

    test('create validates events and the URL', async () => {
      const userId = await newUser(db);
      const strict = new WebhookService(db, { allowPrivate: false });
      const code = (status: number) => (e: unknown) => e instanceof AppError && e.status === status;
      await assert.rejects(service.create(userId, { url: 'https://x.example', events: [] }), code(422));
      await assert.rejects(service.create(userId, { url: 'https://x.example', events: ['recording.deleted'] }), /Unknown event/);
      await assert.rejects(service.create(userId, { url: 'ftp://x.example', events: ['chat.completed'] }), code(422));
      await assert.rejects(strict.create(userId, { url: 'http://169.254.169.254/', events: ['chat.completed'] }), /link-local/);
      assert.deepEqual(await service.list(userId), []);
    });

    test("another user never sees, deletes or reads the deliveries of someone else's webhook", async () => {
      const alice = await newUser(db);
      const bob = await newUser(db);
      const hook = await service.create(alice, { url: 'https://a.example/in', events: ['summary.completed'] });
      assert.equal(await emit(db, alice, 'summary.completed', { summary_id: 's1' }), 1);
      assert.deepEqual(await service.list(bob), []);
      const notFound = (e: unknown) => e instanceof AppError && e.status === 404;
      await assert.rejects(service.deliveries(bob, hook.id, { limit: 20 }), notFound);
      await assert.rejects(service.delete(bob, hook.id), notFound);
      const seen = await withUser(db, bob, (tx) =>
        queryRows<{ n: number }>(tx, sql`select (select count(*) from webhooks)::int + (select count(*) from webhook_deliveries)::int as n`),
      );
      assert.equal(Number(seen[0]!.n), 0, 'RLS hides both tables from bob');
      await assert.rejects(
        withUser(db, bob, (tx) =>
          tx.execute(sql`insert into webhook_deliveries (id, webhook_id, user_id, event, payload, message_id)
                         values (${newId()}, ${hook.id}, ${bob}, 'summary.completed', '{}'::jsonb, 'x')`),
        ),
        'the composite key refuses a delivery for a webhook bob does not own',
      );
      const page = await service.deliveries(alice, hook.id, { limit: 20 });
      assert.equal(page.items.length, 1);
      assert.equal(page.items[0]!.event, 'summary.completed');
      assert.equal(page.next_cursor, null);
    });

    test('enqueueEvent queues one delivery per enabled, subscribed webhook of that user only', async () => {
      const alice = await newUser(db);
      const bob = await newUser(db);
      const a1 = await service.create(alice, { url: 'https://a.example/1', events: ['transcription.completed'] });
      await service.create(alice, { url: 'https://a.example/2', events: ['transcription.completed', 'transcription.failed'] });
      await service.create(alice, { url: 'https://a.example/3', events: ['chat.completed'] });
      const disabled = await service.create(alice, { url: 'https://a.example/4', events: ['transcription.completed'] });
      await asSystem(db, 'test', (tx) => tx.execute(sql`update webhooks set disabled_at = now() where id = ${disabled.id}`));
      await service.create(bob, { url: 'https://b.example/1', events: ['transcription.completed'] });

      assert.equal(await emit(db, alice, 'transcription.completed', { transcription_id: 't1' }), 2);
      assert.equal((await deliveriesOf(db, alice)).length, 2);
      assert.equal((await deliveriesOf(db, bob)).length, 0);
      const page = await service.deliveries(alice, a1.id, { limit: 1 });
      assert.equal(page.items[0]!.status, 'pending');
      assert.equal(page.items[0]!.attempts, 0);
      assert.match(page.items[0]!.message_id, /^msg_/);
    });

    test('a 500, a 500, then a 200: delivered after 3 attempts with one webhook-id and valid signatures', async () => {
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

    test('routes: create 201 with secret, list, deliveries, 404 for others, delete 204, schema validation', async () => {
      const alice = await newUser(db);
      const bob = await newUser(db);
      const app = Fastify({ ajv: { customOptions: { coerceTypes: 'array', useDefaults: true, removeAdditional: true } } })
        .withTypeProvider<TypeBoxTypeProvider>();
      registerErrorHandling(app);
      await app.register(
        async (scope) => {
          scope.addHook('onRequest', async (request) => {
            const user = request.headers['x-test-user'];
            request.auth = typeof user === 'string' ? { userId: user, method: 'jwt' } : null;
          });
          await scope.register(webhookRoutes, { prefix: '/webhooks', webhooks: service });
        },
        { prefix: '/api/v1' },
      );
      await app.ready();
      try {
        const as = (userId: string) => ({ 'x-test-user': userId });
        const created = await app.inject({
          method: 'POST',
          url: '/api/v1/webhooks',
          headers: as(alice),
          payload: { url: 'https://hooks.example.com/x', events: ['transcription.failed'] },
        });
        assert.equal(created.statusCode, 201, created.body);
        const hook = created.json();
        assert.match(hook.secret, /^whsec_/);

        const bad = await app.inject({
          method: 'POST',
          url: '/api/v1/webhooks',
          headers: as(alice),
          payload: { url: 'https://hooks.example.com/x', events: ['nope'] },
        });
        assert.ok([400, 422].includes(bad.statusCode), bad.body);

        const list = await app.inject({ method: 'GET', url: '/api/v1/webhooks', headers: as(alice) });
        assert.equal(list.statusCode, 200);
        assert.equal(list.json().items.length, 1);
        assert.equal(list.json().items[0].secret, undefined);
        assert.deepEqual((await app.inject({ method: 'GET', url: '/api/v1/webhooks', headers: as(bob) })).json().items, []);

        await emit(db, alice, 'transcription.failed', { transcription_id: 't' });
        const deliveries = await app.inject({ method: 'GET', url: `/api/v1/webhooks/${hook.id}/deliveries`, headers: as(alice) });
        assert.equal(deliveries.statusCode, 200, deliveries.body);
        assert.equal(deliveries.json().items.length, 1);
        assert.equal(deliveries.json().next_cursor, null);
        const others = await app.inject({ method: 'GET', url: `/api/v1/webhooks/${hook.id}/deliveries`, headers: as(bob) });
        assert.equal(others.statusCode, 404);
        assert.equal((await app.inject({ method: 'DELETE', url: `/api/v1/webhooks/${hook.id}`, headers: as(bob) })).statusCode, 404);
        const unauthenticated = await app.inject({ method: 'GET', url: '/api/v1/webhooks' });
        assert.equal(unauthenticated.statusCode, 401);

        const deleted = await app.inject({ method: 'DELETE', url: `/api/v1/webhooks/${hook.id}`, headers: as(alice) });
        assert.equal(deleted.statusCode, 204);
        assert.equal((await deliveriesOf(db, alice)).length, 0, 'deliveries go with their webhook');
      } finally {
        await app.close();
      }
    });
  });
}
