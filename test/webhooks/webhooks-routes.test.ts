import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify from 'fastify';
import { registerErrorHandling } from '../../src/http/error-handler.js';
import { webhookRoutes } from '../../src/webhooks/routes.js';
import { deliveriesOf, describeWebhooks, emit, newUser } from './webhooks-fixture.js';

describeWebhooks((ctx) => {
  test('routes: create 201 with secret, list, deliveries, 404 for others, delete 204, schema validation', async () => {
    const { db, service } = ctx();
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
