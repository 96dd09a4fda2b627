import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import type { App } from '../../src/app.js';
import { queryRows, sql } from '../../src/db/client.js';
import { asSystem } from '../../src/db/scope.js';
import { describeEachDatabase } from '../helpers/app.js';
import { bearer, createSession, createTextEntry, registerUser, type TestUser } from '../helpers/factory.js';

interface SessionBody {
  id: string;
  title: string;
  transcription_id: string | null;
  created_at: string;
  updated_at: string;
}

interface MessageBody {
  id: string;
  session_id: string;
  role: 'user' | 'assistant' | 'system';
  content: string;
  provider: string | null;
  model: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  latency_ms: number | null;
  citations: unknown;
  created_at: string;
}

const UNKNOWN_ID = '00000000-0000-7000-8000-000000000000';
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function addMessage(app: App, user: TestUser, sessionId: string, payload: Record<string, unknown>) {
  return app.inject({
    method: 'POST',
    url: `/api/v1/chat/sessions/${sessionId}/messages`,
    headers: bearer(user.accessToken),
    payload,
  });
}

async function getSession(app: App, user: TestUser, id: string): Promise<SessionBody & { messages: MessageBody[] }> {
  const res = await app.inject({ method: 'GET', url: `/api/v1/chat/sessions/${id}`, headers: bearer(user.accessToken) });
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
}

describeEachDatabase('chat sessions', (ctx) => {
  test('create without a transcription: title defaults to "New chat", transcription_id is null', async () => {
    const { app } = ctx();
    const user = await registerUser(app);
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/chat/sessions',
      headers: bearer(user.accessToken),
      payload: {},
    });
    assert.equal(res.statusCode, 201, res.body);
    const session = res.json<SessionBody>();
    assert.equal(session.title, 'New chat');
    assert.equal(session.transcription_id, null);
    assert.match(session.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.match(session.created_at, ISO);
    assert.match(session.updated_at, ISO);
    assert.deepEqual(Object.keys(session).sort(), ['created_at', 'id', 'title', 'transcription_id', 'updated_at']);

    const titled = await createSession(app, user, { title: 'Budget questions' });
    assert.equal((titled as SessionBody).title, 'Budget questions');
    assert.equal((titled as SessionBody).transcription_id, null);

    const fetched = await getSession(app, user, session.id);
    assert.deepEqual(fetched, { ...session, messages: [] });
  });

  test('create with one of your transcriptions links it; an unknown one is 404, a malformed one 422', async () => {
    const { app } = ctx();
    const user = await registerUser(app);
    const entry = await createTextEntry(app, user);
    const session = (await createSession(app, user, {
      title: 'About the meeting',
      transcription_id: entry.transcription.id,
    })) as SessionBody;
    assert.equal(session.transcription_id, entry.transcription.id);
    assert.equal((await getSession(app, user, session.id)).transcription_id, entry.transcription.id);

    const unknown = await app.inject({
      method: 'POST',
      url: '/api/v1/chat/sessions',
      headers: bearer(user.accessToken),
      payload: { transcription_id: UNKNOWN_ID },
    });
    assert.equal(unknown.statusCode, 404, unknown.body);
    assert.equal(unknown.json().code, 'not_found');

    const malformed = await app.inject({
      method: 'POST',
      url: '/api/v1/chat/sessions',
      headers: bearer(user.accessToken),
      payload: { transcription_id: 'nope' },
    });
    assert.equal(malformed.statusCode, 422, malformed.body);

    const emptyTitle = await app.inject({
      method: 'POST',
      url: '/api/v1/chat/sessions',
      headers: bearer(user.accessToken),
      payload: { title: '' },
    });
    assert.equal(emptyTitle.statusCode, 422, emptyTitle.body);
  });

  test('a whitespace-only title is refused or replaced, never stored empty', async () => {
    // KNOWN BUG: minLength is checked before ChatService.createSession trims, so '   ' is stored as ''.
    const { app } = ctx();
    const user = await registerUser(app);
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/chat/sessions',
      headers: bearer(user.accessToken),
      payload: { title: '   ' },
    });
    if (res.statusCode === 422) return;
    assert.equal(res.statusCode, 201, res.body);
    assert.notEqual(res.json<SessionBody>().title.trim(), '', `stored an empty title: ${res.body}`);
  });

  test('list is newest first with cursor pagination', async () => {
    const { app } = ctx();
    const user = await registerUser(app);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await createSession(app, user, { title: `s${i}` })).id);

    const seen: string[] = [];
    const pageSizes: number[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/api/v1/chat/sessions?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const res = await app.inject({ method: 'GET', url, headers: bearer(user.accessToken) });
      assert.equal(res.statusCode, 200, res.body);
      const page = res.json<{ items: SessionBody[]; next_cursor: string | null }>();
      pageSizes.push(page.items.length);
      seen.push(...page.items.map((s) => s.id));
      cursor = page.next_cursor;
    } while (cursor);
    assert.deepEqual(seen, [...ids].reverse());
    assert.deepEqual(pageSizes, [2, 2, 1]);

    const all = await app.inject({ method: 'GET', url: '/api/v1/chat/sessions', headers: bearer(user.accessToken) });
    const page = all.json<{ items: SessionBody[]; next_cursor: string | null }>();
    assert.deepEqual(
      page.items.map((s) => s.title),
      ['s4', 's3', 's2', 's1', 's0'],
    );
    assert.equal(page.next_cursor, null);

    // An exact fit has no next page.
    const exact = await app.inject({
      method: 'GET',
      url: '/api/v1/chat/sessions?limit=5',
      headers: bearer(user.accessToken),
    });
    assert.equal(exact.json().next_cursor, null);

    for (const bad of ['limit=0', 'limit=101', 'cursor=nope']) {
      const res = await app.inject({
        method: 'GET',
        url: `/api/v1/chat/sessions?${bad}`,
        headers: bearer(user.accessToken),
      });
      assert.equal(res.statusCode, 422, bad);
    }
  });

  test('messages: roles user/assistant, role defaults to user, returned oldest first', async () => {
    const { app } = ctx();
    const user = await registerUser(app);
    const session = await createSession(app, user);

    const sent: MessageBody[] = [];
    for (const payload of [
      { content: 'What was decided?' },
      { role: 'assistant', content: 'To meet again on Monday.' },
      { role: 'user', content: 'Who will attend?' },
    ]) {
      const res = await addMessage(app, user, session.id, payload);
      assert.equal(res.statusCode, 201, res.body);
      // Without an LLM configured nothing answers: the reply is null and the message is what is stored.
      const { reply, ...message } = res.json<MessageBody & { reply: unknown }>();
      assert.equal(reply, null);
      sent.push(message);
    }
    assert.deepEqual(
      sent.map((m) => m.role),
      ['user', 'assistant', 'user'],
    );
    const first = sent[0]!;
    assert.equal(first.session_id, session.id);
    assert.equal(first.content, 'What was decided?');
    assert.equal(first.provider, null);
    assert.equal(first.model, null);
    assert.equal(first.input_tokens, null);
    assert.equal(first.output_tokens, null);
    assert.equal(first.latency_ms, null);
    assert.equal(first.citations, null);
    assert.match(first.created_at, ISO);

    const fetched = await getSession(app, user, session.id);
    assert.deepEqual(fetched.messages, sent);
    assert.deepEqual(
      fetched.messages.map((m) => m.content),
      ['What was decided?', 'To meet again on Monday.', 'Who will attend?'],
    );
  });

  test('invalid messages are 422; an unknown session is 404', async () => {
    const { app } = ctx();
    const user = await registerUser(app);
    const session = await createSession(app, user);

    // `system` too: the instructions are the server's, never a client's.
    for (const role of ['tool', 'system']) {
      const badRole = await addMessage(app, user, session.id, { role, content: 'hi' });
      assert.equal(badRole.statusCode, 422, badRole.body);
      assert.equal(badRole.json().code, 'validation_failed');
      assert.ok(
        badRole.json().errors.some((e: { field: string }) => e.field.includes('role')),
        badRole.body,
      );
    }

    const empty = await addMessage(app, user, session.id, { content: '' });
    assert.equal(empty.statusCode, 422, empty.body);
    assert.ok(
      empty.json().errors.some((e: { field: string }) => e.field.includes('content')),
      empty.body,
    );

    const missing = await addMessage(app, user, session.id, { role: 'user' });
    assert.equal(missing.statusCode, 422, missing.body);

    const tooLong = await addMessage(app, user, session.id, { content: 'x'.repeat(100_001) });
    assert.equal(tooLong.statusCode, 422, tooLong.body);

    // None of the refused messages was stored.
    assert.deepEqual((await getSession(app, user, session.id)).messages, []);

    for (const [method, url, payload] of [
      ['GET', `/api/v1/chat/sessions/${UNKNOWN_ID}`, undefined],
      ['DELETE', `/api/v1/chat/sessions/${UNKNOWN_ID}`, undefined],
      ['POST', `/api/v1/chat/sessions/${UNKNOWN_ID}/messages`, { content: 'anyone there?' }],
    ] as const) {
      const res = await app.inject({ method, url, headers: bearer(user.accessToken), ...(payload ? { payload } : {}) });
      assert.equal(res.statusCode, 404, `${method} ${url}: ${res.body}`);
      assert.equal(res.json().code, 'not_found');
    }

    const malformed = await app.inject({
      method: 'GET',
      url: '/api/v1/chat/sessions/not-a-uuid',
      headers: bearer(user.accessToken),
    });
    assert.equal(malformed.statusCode, 422);
  });

  test('delete is 204, then 404, and the session’s messages are gone', async () => {
    const { app, database } = ctx();
    const user = await registerUser(app);
    const session = await createSession(app, user);
    const other = await createSession(app, user, { title: 'keep me' });
    for (const content of ['one', 'two']) {
      assert.equal((await addMessage(app, user, session.id, { content })).statusCode, 201);
    }
    assert.equal((await addMessage(app, user, other.id, { content: 'kept' })).statusCode, 201);

    const countMessages = async (sessionId: string): Promise<number> => {
      const [row] = await asSystem(database.db, 'test: count past RLS', (tx) =>
        queryRows<{ n: number }>(tx, sql`select count(*)::int as n from chat_messages where session_id = ${sessionId}`),
      );
      return row?.n ?? -1;
    };
    assert.equal(await countMessages(session.id), 2);

    const del = await app.inject({
      method: 'DELETE',
      url: `/api/v1/chat/sessions/${session.id}`,
      headers: bearer(user.accessToken),
    });
    assert.equal(del.statusCode, 204, del.body);
    assert.equal(del.body, '');

    const gone = await app.inject({
      method: 'GET',
      url: `/api/v1/chat/sessions/${session.id}`,
      headers: bearer(user.accessToken),
    });
    assert.equal(gone.statusCode, 404);
    const again = await app.inject({
      method: 'DELETE',
      url: `/api/v1/chat/sessions/${session.id}`,
      headers: bearer(user.accessToken),
    });
    assert.equal(again.statusCode, 404);
    const write = await addMessage(app, user, session.id, { content: 'too late' });
    assert.equal(write.statusCode, 404);

    assert.equal(await countMessages(session.id), 0);
    // The other session and its message are untouched.
    assert.equal(await countMessages(other.id), 1);
    assert.deepEqual(
      (await getSession(app, user, other.id)).messages.map((m) => m.content),
      ['kept'],
    );
    const list = await app.inject({ method: 'GET', url: '/api/v1/chat/sessions', headers: bearer(user.accessToken) });
    assert.deepEqual(
      list.json<{ items: SessionBody[] }>().items.map((s) => s.id),
      [other.id],
    );
  });

  test('adding a message moves the session’s updated_at forward, not its created_at', async () => {
    const { app } = ctx();
    const user = await registerUser(app);
    const created = await getSession(app, user, (await createSession(app, user)).id);
    assert.equal(created.updated_at, created.created_at);

    let previous = created.updated_at;
    for (const content of ['first', 'second']) {
      // Timestamps are reported to the millisecond; make sure a millisecond has passed.
      await sleep(5);
      const res = await addMessage(app, user, created.id, { content });
      assert.equal(res.statusCode, 201, res.body);
      const message = res.json<MessageBody>();
      const now = await getSession(app, user, created.id);
      assert.equal(now.created_at, created.created_at);
      assert.ok(
        Date.parse(now.updated_at) > Date.parse(previous),
        `updated_at ${now.updated_at} did not move past ${previous}`,
      );
      assert.ok(Date.parse(now.updated_at) >= Date.parse(created.created_at));
      assert.ok(Math.abs(Date.parse(now.updated_at) - Date.parse(message.created_at)) < 1_000);
      previous = now.updated_at;
    }
  });
});
