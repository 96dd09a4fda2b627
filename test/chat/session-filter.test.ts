import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeEachDatabase } from '../helpers/app.js';
import { bearer, createSession, createTextEntry, registerUser } from '../helpers/factory.js';

/** `GET /chat/sessions?transcription_id=`: a transcript's earlier conversations, which the console reopens. */
describeEachDatabase('chat sessions of one transcript', (ctx) => {
  test('only that transcript’s sessions, newest first and paged; another user’s transcript lists nothing', async () => {
    const { app } = ctx();
    const user = await registerUser(app);
    const a = await createTextEntry(app, user, { original_text: 'One.' });
    const b = await createTextEntry(app, user, { original_text: 'Two.' });
    const first = await createSession(app, user, { transcription_id: a.transcription.id, title: 'a1' });
    await createSession(app, user, { transcription_id: b.transcription.id, title: 'b1' });
    await createSession(app, user, { title: 'none' });
    const second = await createSession(app, user, { transcription_id: a.transcription.id, title: 'a2' });
    const list = (query: string, token = user.accessToken) =>
      app.inject({ method: 'GET', url: `/api/v1/chat/sessions?${query}`, headers: bearer(token) });

    const all = await list(`transcription_id=${a.transcription.id}`);
    assert.equal(all.statusCode, 200, all.body);
    assert.deepEqual(all.json<{ items: { id: string }[] }>().items.map((s) => s.id), [second.id, first.id]);

    const page = (await list(`transcription_id=${a.transcription.id}&limit=1`)).json<{ items: { title: string }[]; next_cursor: string }>();
    assert.deepEqual(page.items.map((s) => s.title), ['a2']);
    const rest = await list(`transcription_id=${a.transcription.id}&limit=1&cursor=${page.next_cursor}`);
    const last = rest.json<{ items: { title: string }[]; next_cursor: string | null }>();
    assert.deepEqual([last.items.map((s) => s.title), last.next_cursor], [['a1'], null]);

    assert.equal((await list('')).json<{ items: unknown[] }>().items.length, 4, 'without the filter: every session');

    const other = await registerUser(app);
    const theirs = await list(`transcription_id=${a.transcription.id}`, other.accessToken);
    assert.equal(theirs.statusCode, 200, theirs.body);
    assert.deepEqual(theirs.json<{ items: unknown[] }>().items, []);

    const bad = await list('transcription_id=not-a-uuid');
    assert.equal(bad.statusCode, 422, bad.body);
  });
});
