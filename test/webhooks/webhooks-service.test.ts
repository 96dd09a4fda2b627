import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'drizzle-orm';
import { queryRows } from '../../src/db/client.js';
import { newId } from '../../src/db/ids.js';
import { asSystem, withUser } from '../../src/db/scope.js';
import { AppError } from '../../src/http/errors.js';
import { WebhookService } from '../../src/webhooks/service.js';
import { deliveriesOf, describeWebhooks, emit, newUser } from './webhooks-fixture.js';

describeWebhooks((ctx) => {
  test('create returns the secret once; list hides it; delete removes it', async () => {
    const { db, service } = ctx();
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
    const { db, service } = ctx();
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
    const { db, service } = ctx();
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
    const { db, service } = ctx();
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
});
