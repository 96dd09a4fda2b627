import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { App } from '../../src/app.js';
import { describeEachDatabase } from '../helpers/app.js';
import { bearer, createSession, createTextEntry, registerUser, type TestUser } from '../helpers/factory.js';

/*
 * Cross-user isolation over HTTP, as a table (the style of supabase/storage's rls_tests.yaml):
 * user A owns some data, user B replays every route that touches user data with A's ids, and
 * each attempt must be a plain 404 (never 403, which would confirm that the id exists).
 * Every row becomes its own test, so a failure names the route.
 */

/** The ids of everything A owns. */
interface Ids {
  recordingId: string;
  transcriptionId: string;
  sessionId: string;
  apiKeyId: string;
}

interface IsolationCase {
  method: 'GET' | 'POST' | 'DELETE';
  url: (ids: Ids) => string;
  payload?: (ids: Ids) => Record<string, unknown>;
  /** The route's template, for the test's name. */
  route: string;
}

const CASES: IsolationCase[] = [
  { method: 'GET', route: '/api/v1/audio/{id}', url: (ids) => `/api/v1/audio/${ids.recordingId}` },
  { method: 'DELETE', route: '/api/v1/audio/{id}', url: (ids) => `/api/v1/audio/${ids.recordingId}` },
  {
    method: 'GET',
    route: '/api/v1/audio/{id}/transcription',
    url: (ids) => `/api/v1/audio/${ids.recordingId}/transcription`,
  },
  {
    method: 'GET',
    route: '/api/v1/audio/transcription/{transcription_id}',
    url: (ids) => `/api/v1/audio/transcription/${ids.transcriptionId}`,
  },
  { method: 'GET', route: '/api/v1/chat/sessions/{id}', url: (ids) => `/api/v1/chat/sessions/${ids.sessionId}` },
  { method: 'DELETE', route: '/api/v1/chat/sessions/{id}', url: (ids) => `/api/v1/chat/sessions/${ids.sessionId}` },
  {
    method: 'POST',
    route: '/api/v1/chat/sessions/{id}/messages',
    url: (ids) => `/api/v1/chat/sessions/${ids.sessionId}/messages`,
    payload: () => ({ content: 'B writes into A’s session', role: 'user' }),
  },
  {
    method: 'POST',
    route: '/api/v1/chat/sessions {transcription_id}',
    url: () => '/api/v1/chat/sessions',
    payload: (ids) => ({ title: 'B about A’s transcript', transcription_id: ids.transcriptionId }),
  },
  { method: 'DELETE', route: '/api/v1/auth/api-keys/{id}', url: (ids) => `/api/v1/auth/api-keys/${ids.apiKeyId}` },
];

/** B tries the table once with each kind of credential. */
const CREDENTIALS = ['access token', 'API key'] as const;
type Credential = (typeof CREDENTIALS)[number];

interface Owner {
  user: TestUser;
  apiKey: string;
  ids: Ids;
}

async function createApiKey(app: App, user: TestUser, name: string): Promise<{ id: string; key: string }> {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/api-keys',
    headers: bearer(user.accessToken),
    // With the scope that lets a key manage keys, so B's key reaches the key routes and is refused A's ids.
    payload: { name, scopes: ['keys:manage'] },
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json<{ id: string; key: string }>();
}

/** A user with one of everything: a text entry (recording, transcription, segments), a session with messages, an API key. */
async function seedOwner(app: App, label: string): Promise<Owner> {
  const user = await registerUser(app, label);
  const entry = await createTextEntry(app, user, { title: `${label}'s meeting` });
  const session = await createSession(app, user, { title: `${label}'s questions`, transcription_id: entry.transcription.id });
  for (const [role, content] of [
    ['user', `${label} asks something`],
    ['assistant', `${label} gets an answer`],
  ] as const) {
    const res = await app.inject({
      method: 'POST',
      url: `/api/v1/chat/sessions/${session.id}/messages`,
      headers: bearer(user.accessToken),
      payload: { role, content },
    });
    assert.equal(res.statusCode, 201, res.body);
  }
  const key = await createApiKey(app, user, `${label}'s key`);
  return {
    user,
    apiKey: key.key,
    ids: {
      recordingId: entry.id,
      transcriptionId: entry.transcription.id,
      sessionId: session.id,
      apiKeyId: key.id,
    },
  };
}

async function getJson(app: App, url: string, token: string): Promise<unknown> {
  const res = await app.inject({ method: 'GET', url, headers: bearer(token) });
  assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
  return res.json();
}

async function listIds(app: App, url: string, token: string): Promise<string[]> {
  const body = (await getJson(app, url, token)) as { items: { id: string }[]; next_cursor?: string | null };
  assert.ok(!body.next_cursor, `${url} has more than one page; the test expects few rows`);
  return body.items.map((item) => item.id);
}

describeEachDatabase('cross-user isolation over HTTP', (ctx) => {
  let a: Owner;
  let b: Owner;
  /** What A sees before B starts trying; compared with what A sees afterwards. */
  let snapshot: Record<string, unknown>;

  const snapshotUrls = (ids: Ids): string[] => [
    `/api/v1/audio/${ids.recordingId}`,
    `/api/v1/audio/${ids.recordingId}/transcription`,
    `/api/v1/audio/transcription/${ids.transcriptionId}`,
    `/api/v1/chat/sessions/${ids.sessionId}`,
  ];

  before(async () => {
    const { app } = ctx();
    a = await seedOwner(app, 'alice');
    b = await seedOwner(app, 'bob');
    snapshot = {};
    for (const url of snapshotUrls(a.ids)) snapshot[url] = await getJson(app, url, a.user.accessToken);
  });

  const tokenOf = (owner: Owner, credential: Credential): string =>
    credential === 'API key' ? owner.apiKey : owner.user.accessToken;

  for (const credential of CREDENTIALS) {
    for (const row of CASES) {
      test(`B (${credential}) ${row.method} ${row.route} with A’s id → 404`, async () => {
        const { app } = ctx();
        const url = row.url(a.ids);
        const res = await app.inject({
          method: row.method,
          url,
          headers: bearer(tokenOf(b, credential)),
          ...(row.payload ? { payload: row.payload(a.ids) } : {}),
        });
        assert.equal(res.statusCode, 404, `${row.method} ${url}: ${res.body}`);
        // not_found from the service, not route_not_found: the route exists and refused the id.
        assert.equal(res.json().code, 'not_found', res.body);
        assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      });
    }
  }

  test('B’s lists never contain A’s rows (and A’s never contain B’s)', async () => {
    const { app } = ctx();
    for (const [viewer, other] of [
      [b, a],
      [a, b],
    ] as const) {
      const token = viewer.user.accessToken;
      const recordings = await listIds(app, '/api/v1/audio/?limit=100', token);
      assert.deepEqual(recordings, [viewer.ids.recordingId]);
      assert.ok(!recordings.includes(other.ids.recordingId));

      const sessions = await listIds(app, '/api/v1/chat/sessions?limit=100', token);
      assert.deepEqual(sessions, [viewer.ids.sessionId]);
      assert.ok(!sessions.includes(other.ids.sessionId));

      const keys = await listIds(app, '/api/v1/auth/api-keys', token);
      assert.deepEqual(keys, [viewer.ids.apiKeyId]);
      assert.ok(!keys.includes(other.ids.apiKeyId));
    }
  });

  test('B’s cursor set to A’s ids still lists only B’s rows', async () => {
    const { app } = ctx();
    // A cursor is an upper bound on ids; one of A's later ids must not open A's rows to B.
    for (const url of [
      `/api/v1/audio/?cursor=${b.ids.apiKeyId}`,
      `/api/v1/chat/sessions?cursor=${b.ids.apiKeyId}`,
    ]) {
      const ids = await listIds(app, url, b.user.accessToken);
      assert.ok(!ids.includes(a.ids.recordingId) && !ids.includes(a.ids.sessionId), url);
    }
  });

  test('after all of B’s attempts A’s data is intact', async () => {
    const { app } = ctx();
    for (const url of snapshotUrls(a.ids)) {
      assert.deepEqual(await getJson(app, url, a.user.accessToken), snapshot[url], url);
    }
    const session = (await getJson(app, `/api/v1/chat/sessions/${a.ids.sessionId}`, a.user.accessToken)) as {
      messages: { role: string; content: string }[];
    };
    assert.deepEqual(
      session.messages.map((m) => [m.role, m.content]),
      [
        ['user', 'alice asks something'],
        ['assistant', 'alice gets an answer'],
      ],
    );

    // A's API key still authenticates as A and is not revoked.
    const me = (await getJson(app, '/api/v1/auth/me', a.apiKey)) as { id: string };
    assert.equal(me.id, a.user.userId);
    const keys = (await getJson(app, '/api/v1/auth/api-keys', a.user.accessToken)) as {
      items: { id: string; revoked_at: string | null }[];
    };
    assert.deepEqual(
      keys.items.map((k) => [k.id, k.revoked_at]),
      [[a.ids.apiKeyId, null]],
    );

    // B's failed POST /chat/sessions created nothing for B either.
    assert.deepEqual(await listIds(app, '/api/v1/chat/sessions?limit=100', b.user.accessToken), [b.ids.sessionId]);
    const bSession = (await getJson(app, `/api/v1/chat/sessions/${b.ids.sessionId}`, b.user.accessToken)) as {
      messages: unknown[];
    };
    assert.equal(bSession.messages.length, 2);
  });
});
