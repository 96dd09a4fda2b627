import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { App } from '../../src/app.js';
import { describeEachDatabase } from '../helpers/app.js';
import { bearer, registerUser } from '../helpers/factory.js';
import { assertProblem } from './support.js';

/*
 * Interactive log-ins manage credentials; an API key does only if it was created with the
 * `keys:manage` scope (src/auth/scopes.ts). A leaked key must not mint itself successors.
 */

const KEYS = '/api/v1/auth/api-keys';

interface CreatedKey {
  id: string;
  key: string;
  scopes: string[];
}

function createKey(app: App, token: string, body: Record<string, unknown>) {
  return app.inject({ method: 'POST', url: KEYS, headers: bearer(token), payload: body });
}

async function created(app: App, token: string, body: Record<string, unknown>): Promise<CreatedKey> {
  const res = await createKey(app, token, body);
  assert.equal(res.statusCode, 201, res.body);
  return res.json<CreatedKey>();
}

describeEachDatabase('auth: API key scopes', (ctx) => {
  test('a key without scopes is 403 insufficient_scope on creating, listing and revoking keys, and works elsewhere', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'plain-key');
    const plain = await created(app, user.accessToken, { name: 'plain' });
    assert.deepEqual(plain.scopes, []);

    assertProblem(await createKey(app, plain.key, { name: 'child' }), 403, 'insufficient_scope');
    assertProblem(await createKey(app, plain.key, { name: 'child', scopes: ['keys:manage'] }), 403, 'insufficient_scope');
    assertProblem(await app.inject({ method: 'GET', url: KEYS, headers: bearer(plain.key) }), 403, 'insufficient_scope');
    assertProblem(
      await app.inject({ method: 'DELETE', url: `${KEYS}/${plain.id}`, headers: bearer(plain.key) }),
      403,
      'insufficient_scope',
    );

    // Nothing was made or revoked; the key still reads the account's data.
    const list = await app.inject({ method: 'GET', url: KEYS, headers: bearer(user.accessToken) });
    assert.deepEqual(
      list.json<{ items: { id: string; revoked_at: string | null }[] }>().items.map((k) => [k.id, k.revoked_at]),
      [[plain.id, null]],
    );
    for (const url of ['/api/v1/auth/me', '/api/v1/audio/']) {
      const res = await app.inject({ method: 'GET', url, headers: bearer(plain.key) });
      assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
    }
  });

  test('a key created with keys:manage may create (201), list and revoke keys', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'manager-key');
    const manager = await created(app, user.accessToken, { name: 'provisioner', scopes: ['keys:manage'] });
    assert.deepEqual(manager.scopes, ['keys:manage']);

    const child = await created(app, manager.key, { name: 'child' });
    assert.deepEqual(child.scopes, []);
    const heir = await created(app, manager.key, { name: 'heir', scopes: ['keys:manage'] });
    assert.deepEqual(heir.scopes, ['keys:manage']);

    const list = await app.inject({ method: 'GET', url: KEYS, headers: bearer(manager.key) });
    assert.equal(list.statusCode, 200, list.body);
    const scopes = Object.fromEntries(list.json<{ items: { id: string; scopes: string[] }[] }>().items.map((k) => [k.id, k.scopes]));
    assert.deepEqual(scopes, { [manager.id]: ['keys:manage'], [child.id]: [], [heir.id]: ['keys:manage'] });

    const revoked = await app.inject({ method: 'DELETE', url: `${KEYS}/${child.id}`, headers: bearer(manager.key) });
    assert.equal(revoked.statusCode, 204, revoked.body);
  });

  test('unknown or repeated scopes are 422', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'bad-scopes');
    for (const scopes of [['admin'], ['keys:manage', 'keys:manage'], [1], {}]) {
      assertProblem(await createKey(app, user.accessToken, { name: 'x', scopes }), 422, 'validation_failed');
    }
  });

  test('the scopes field is documented on key creation', async () => {
    const { app } = ctx();
    const doc = (await app.inject({ url: '/openapi.json' })).json<{
      paths: Record<string, Record<string, { requestBody: { content: Record<string, { schema: { properties: Record<string, { description?: string }> } }> }; responses: Record<string, unknown> }>>;
    }>();
    const post = doc.paths['/api/v1/auth/api-keys']!.post!;
    const scopes = post.requestBody.content['application/json']!.schema.properties.scopes;
    assert.ok(scopes?.description?.includes('keys:manage'), JSON.stringify(scopes));
    assert.ok(post.responses['403'], 'the 403 is documented');
  });
});
