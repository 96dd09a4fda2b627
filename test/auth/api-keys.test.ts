import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eq } from 'drizzle-orm';
import type { App } from '../../src/app.js';
import { apiKeys } from '../../src/db/schema.js';
import { asSystem } from '../../src/db/scope.js';
import { describeEachDatabase } from '../helpers/app.js';
import { bearer, createTextEntry, registerUser, type TestUser } from '../helpers/factory.js';
import { assertBearerRejected, assertProblem, sha256Hex } from './support.js';

const KEYS = '/api/v1/auth/api-keys';
const ME = '/api/v1/auth/me';

interface CreatedKey {
  id: string;
  name: string;
  prefix: string;
  key: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

async function createKey(app: App, user: TestUser, body: Record<string, unknown> = { name: 'cli' }): Promise<CreatedKey> {
  const res = await app.inject({ method: 'POST', url: KEYS, headers: bearer(user.accessToken), payload: body });
  assert.equal(res.statusCode, 201, res.body);
  return res.json<CreatedKey>();
}

async function listKeys(app: App, user: TestUser) {
  const res = await app.inject({ method: 'GET', url: KEYS, headers: bearer(user.accessToken) });
  assert.equal(res.statusCode, 200, res.body);
  return { res, items: res.json<{ items: Omit<CreatedKey, 'key'>[] }>().items };
}

describeEachDatabase('auth: API keys', (ctx) => {
  test('create answers 201 with a trb_ key shown once; the list never contains it', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'keys');
    const before = Date.now();
    const created = await createKey(app, user, { name: 'laptop' });
    assert.match(created.key, /^trb_[A-Za-z0-9_-]{20,}$/);
    assert.equal(created.name, 'laptop');
    assert.ok(created.key.startsWith(created.prefix), 'prefix is the start of the key');
    assert.ok(created.prefix.startsWith('trb_') && created.prefix.length < created.key.length - 16, created.prefix);
    assert.equal(created.expires_at, null);
    assert.equal(created.last_used_at, null);
    assert.equal(created.revoked_at, null);
    assert.ok(Date.parse(created.created_at) >= before - 5_000);

    const { res, items } = await listKeys(app, user);
    assert.equal(items.length, 1);
    const listed = items[0]!;
    assert.equal(listed.id, created.id);
    assert.equal(listed.prefix, created.prefix);
    assert.equal((listed as Record<string, unknown>).key, undefined);
    assert.equal((listed as Record<string, unknown>).key_hash, undefined);
    assert.ok(!res.body.includes(created.key), 'the list must not contain the key');
    assert.ok(!res.body.includes(sha256Hex(created.key)), 'nor its hash');
  });

  test('expires_in_days sets expires_at; out-of-range values and empty names are 422', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'keys-exp');
    const before = Date.now();
    const created = await createKey(app, user, { name: 'week', expires_in_days: 7 });
    const expiresAt = Date.parse(created.expires_at ?? '');
    const week = 7 * 86_400_000;
    assert.ok(expiresAt >= before + week - 5_000 && expiresAt <= Date.now() + week + 5_000, created.expires_at!);

    for (const payload of [{ name: 'x', expires_in_days: 0 }, { name: 'x', expires_in_days: -1 }, { name: '' }, {}]) {
      const res = await app.inject({ method: 'POST', url: KEYS, headers: bearer(user.accessToken), payload });
      assertProblem(res, 422, 'validation_failed');
    }
  });

  test('the key works as a bearer on /me and on /api/v1/audio/', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'keys-use');
    const entry = await createTextEntry(app, user, { title: 'Visible through the key' });
    const { key } = await createKey(app, user);

    const me = await app.inject({ method: 'GET', url: ME, headers: bearer(key) });
    assert.equal(me.statusCode, 200, me.body);
    assert.equal(me.json().id, user.userId);
    assert.equal(me.json().email, user.email);

    const audio = await app.inject({ method: 'GET', url: '/api/v1/audio/', headers: bearer(key) });
    assert.equal(audio.statusCode, 200, audio.body);
    assert.deepEqual(
      audio.json().items.map((r: { id: string }) => r.id),
      [entry.id],
    );
  });

  test('a key acts only as its owner', async () => {
    const { app } = ctx();
    const owner = await registerUser(app, 'keys-owner');
    const other = await registerUser(app, 'keys-other');
    const ownerEntry = await createTextEntry(app, owner);
    await createTextEntry(app, other);
    const { key } = await createKey(app, owner);
    const audio = await app.inject({ method: 'GET', url: '/api/v1/audio/', headers: bearer(key) });
    assert.deepEqual(
      audio.json().items.map((r: { id: string }) => r.id),
      [ownerEntry.id],
    );
    const { items } = await listKeys(app, other);
    assert.equal(items.length, 0, 'other users do not see the key');
  });

  test('the list shows last_used_at once the key has been used', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'keys-last-used');
    const created = await createKey(app, user);
    const untouched = (await listKeys(app, user)).items.find((k) => k.id === created.id);
    assert.equal(untouched?.last_used_at, null);

    const before = Date.now();
    const me = await app.inject({ method: 'GET', url: ME, headers: bearer(created.key) });
    assert.equal(me.statusCode, 200);

    const used = (await listKeys(app, user)).items.find((k) => k.id === created.id);
    assert.ok(used?.last_used_at, 'last_used_at is set');
    const lastUsed = Date.parse(used.last_used_at);
    assert.ok(lastUsed >= before - 5_000 && lastUsed <= Date.now() + 5_000, used.last_used_at);
  });

  test('revoke is 204, then the key is 401; revoking again is still fine', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'keys-revoke');
    const created = await createKey(app, user);
    const keep = await createKey(app, user, { name: 'keep' });
    assert.equal((await app.inject({ method: 'GET', url: ME, headers: bearer(created.key) })).statusCode, 200);

    const del = await app.inject({ method: 'DELETE', url: `${KEYS}/${created.id}`, headers: bearer(user.accessToken) });
    assert.equal(del.statusCode, 204, del.body);

    for (const url of [ME, '/api/v1/audio/']) {
      assertBearerRejected(await app.inject({ method: 'GET', url, headers: bearer(created.key) }), 'invalid_token');
    }
    const listed = (await listKeys(app, user)).items.find((k) => k.id === created.id);
    assert.ok(listed?.revoked_at, 'the list shows when it was revoked');

    const again = await app.inject({ method: 'DELETE', url: `${KEYS}/${created.id}`, headers: bearer(user.accessToken) });
    assert.equal(again.statusCode, 204, again.body);

    // Only that key was revoked.
    assert.equal((await app.inject({ method: 'GET', url: ME, headers: bearer(keep.key) })).statusCode, 200);
  });

  test("revoking another user's key is 404 and leaves it working", async () => {
    const { app } = ctx();
    const owner = await registerUser(app, 'keys-victim');
    const attacker = await registerUser(app, 'keys-attacker');
    const created = await createKey(app, owner);

    const res = await app.inject({ method: 'DELETE', url: `${KEYS}/${created.id}`, headers: bearer(attacker.accessToken) });
    assertProblem(res, 404, 'not_found');

    const me = await app.inject({ method: 'GET', url: ME, headers: bearer(created.key) });
    assert.equal(me.statusCode, 200, me.body);
    const listed = (await listKeys(app, owner)).items.find((k) => k.id === created.id);
    assert.equal(listed?.revoked_at, null);
  });

  test('revoking an unknown id is 404, a malformed id 422', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'keys-unknown');
    const unknown = await app.inject({
      method: 'DELETE',
      url: `${KEYS}/00000000-0000-7000-8000-000000000000`,
      headers: bearer(user.accessToken),
    });
    assertProblem(unknown, 404, 'not_found');
    const malformed = await app.inject({ method: 'DELETE', url: `${KEYS}/not-a-uuid`, headers: bearer(user.accessToken) });
    assertProblem(malformed, 422, 'validation_failed');
  });

  test('an expired key is 401', async () => {
    const { app, database } = ctx();
    const user = await registerUser(app, 'keys-expired');
    const created = await createKey(app, user, { name: 'soon', expires_in_days: 1 });
    assert.equal((await app.inject({ method: 'GET', url: ME, headers: bearer(created.key) })).statusCode, 200);

    await asSystem(database.db, 'test expires an API key', (tx) =>
      tx
        .update(apiKeys)
        .set({ expiresAt: new Date(Date.now() - 60_000) })
        .where(eq(apiKeys.id, created.id)),
    );
    for (const url of [ME, '/api/v1/audio/']) {
      assertBearerRejected(await app.inject({ method: 'GET', url, headers: bearer(created.key) }), 'invalid_token');
    }
  });

  test('the stored key_hash is the SHA-256 of the key, never the key itself', async () => {
    const { app, database } = ctx();
    const user = await registerUser(app, 'keys-hash');
    const created = await createKey(app, user);
    const [row] = await asSystem(database.db, 'test reads the stored key', (tx) =>
      tx.select().from(apiKeys).where(eq(apiKeys.id, created.id)),
    );
    assert.ok(row);
    assert.equal(row.userId, user.userId);
    assert.notEqual(row.keyHash, created.key);
    assert.ok(!row.keyHash.includes(created.key.slice(4)));
    assert.equal(row.keyHash, sha256Hex(created.key));
    assert.equal(row.prefix, created.prefix);
    assert.ok(created.key.length > row.prefix.length + 16, 'the prefix alone does not reveal the key');
  });

  test('unknown or altered trb_ keys are 401 invalid_token', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'keys-fake');
    const { key } = await createKey(app, user);
    const altered = `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`;
    for (const fake of ['trb_', 'trb_doesnotexist', altered, key.toUpperCase()]) {
      if (fake === key) continue;
      assertBearerRejected(await app.inject({ method: 'GET', url: ME, headers: bearer(fake) }), 'invalid_token');
    }
  });

  test('API-key routes need authentication', async () => {
    const { app } = ctx();
    assertBearerRejected(await app.inject({ method: 'GET', url: KEYS }), 'unauthorized');
    assertBearerRejected(await app.inject({ method: 'POST', url: KEYS, payload: { name: 'x' } }), 'unauthorized');
    assertBearerRejected(
      await app.inject({ method: 'DELETE', url: `${KEYS}/00000000-0000-7000-8000-000000000000` }),
      'unauthorized',
    );
  });
});
