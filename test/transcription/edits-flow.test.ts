import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { sql } from 'drizzle-orm';
import { queryRows } from '../../src/db/client.js';
import { asSystem } from '../../src/db/scope.js';
import { describeEachDatabase } from '../helpers/app.js';
import { bearer, createTextEntry, registerUser } from '../helpers/factory.js';
import { fakeServer, json, openaiCompletion, type RequestBody } from '../helpers/fake-llm.js';

/** Answers chat with a citation of segment 1, and summaries (JSON asked) with a fixed summary. */
const llm = await fakeServer((req, res) => {
  const wantsJson = (req.body as RequestBody & { response_format?: unknown }).response_format !== undefined;
  const content = wantsJson
    ? JSON.stringify({ summary: 'Budget talk.', key_points: [{ text: 'Budget', segments: [1] }], action_items: [], language: 'en' })
    : 'The budget grows [1].';
  json(res, 200, openaiCompletion(content, { prompt_tokens: 30, completion_tokens: 8 }));
});
after(() => llm.close());

const promptOf = (i: number) => (llm.requests[i]!.body.messages ?? []).map((m) => String(m.content)).join('\n');

describeEachDatabase(
  'edits flow everywhere',
  (ctx) => {
    test('an edited word is what search, every export, chat grounding and summaries see', async () => {
      const { app, database } = ctx();
      const user = await registerUser(app);
      const entry = await createTextEntry(app, user, {
        original_text: 'We open the meeting. The budget grows by ten persent. Thanks all.',
        language: 'en',
      });
      const id = entry.transcription.id;
      const auth = bearer(user.accessToken);
      // Times, as an engine would have written them, so that every subtitle format renders.
      await asSystem(database.db, 'test gives the segments times', (tx) =>
        tx.execute(sql`update transcript_segments set start_seconds = index * 2, end_seconds = index * 2 + 1.5
                       where transcription_id = ${id}`),
      );
      const hook = await app.inject({
        method: 'POST',
        url: '/api/v1/webhooks',
        headers: auth,
        payload: { url: 'http://127.0.0.1:9/in', events: ['transcription.edited'] },
      });
      assert.equal(hook.statusCode, 201, hook.body);

      const summarize = () => app.inject({ method: 'POST', url: `/api/v1/audio/${entry.id}/summary`, headers: auth });
      assert.equal((await summarize()).statusCode, 200);
      const callsBefore = llm.requests.length;
      assert.equal((await summarize()).json<{ cached: boolean }>().cached, true);
      assert.equal(llm.requests.length, callsBefore, 'an unchanged transcript is summarised from the store');

      const edit = await app.inject({
        method: 'PATCH',
        url: `/api/v1/audio/transcription/${id}/segments/${entry.transcription.segments[1]!.id}`,
        headers: auth,
        payload: { text: 'The budget grows by ten percent.' },
      });
      assert.equal(edit.statusCode, 200, edit.body);

      const search = async (q: string) =>
        (await app.inject({ method: 'GET', url: `/api/v1/search?q=${q}`, headers: auth })).json<{ items: Array<{ text: string }> }>().items;
      assert.deepEqual((await search('percent')).map((h) => h.text), ['The budget grows by ten percent.']);
      assert.deepEqual(await search('persent'), []);

      for (const format of ['json', 'text', 'srt', 'vtt', 'verbose_json']) {
        for (const url of [`/api/v1/audio/${entry.id}/transcription`, `/api/v1/audio/transcription/${id}`]) {
          const res = await app.inject({ method: 'GET', url: `${url}?format=${format}`, headers: auth });
          assert.equal(res.statusCode, 200, res.body);
          assert.equal(res.headers.etag, `"${id}.2"`, `${format} carries the version`);
          assert.match(res.body, /ten percent/, format);
          assert.doesNotMatch(res.body, /persent/, format);
        }
      }

      const asked = llm.requests.length;
      const answer = await app.inject({
        method: 'POST',
        url: '/api/v1/chat/completion',
        headers: auth,
        payload: { transcription_id: id, message: 'How much does the budget grow?' },
      });
      assert.equal(answer.statusCode, 200, answer.body);
      assert.match(promptOf(asked), /^\[1\] .*The budget grows by ten percent\.$/m);
      assert.doesNotMatch(promptOf(asked), /persent/);
      assert.equal(answer.json<{ citations: Array<{ text: string }> }>().citations[0]!.text, 'The budget grows by ten percent.');

      const summaryCalls = llm.requests.length;
      const stored = await app.inject({ method: 'GET', url: `/api/v1/audio/${entry.id}/summary`, headers: auth });
      assert.equal(stored.json<{ stale: boolean }>().stale, true, 'the edit made the stored summary stale');
      assert.equal(llm.requests.length, summaryCalls, 'reading the stored summary calls no model');
      const again = await summarize();
      assert.equal(again.json<{ cached: boolean }>().cached, false, 'a stale summary is made again');
      assert.equal((await app.inject({ method: 'GET', url: `/api/v1/audio/${entry.id}/summary`, headers: auth })).json<{ stale: boolean }>().stale, false);
      assert.equal(llm.requests.length, summaryCalls + 1);
      assert.match(promptOf(summaryCalls), /ten percent/);

      const deliveries = await asSystem(database.db, 'test reads the queued webhook', (tx) =>
        queryRows<{ event: string; payload: Record<string, unknown> }>(tx, sql`select event, payload from webhook_deliveries where user_id = ${user.userId}`),
      );
      assert.deepEqual(deliveries, [
        { event: 'transcription.edited', payload: { transcription_id: id, recording_id: entry.id, version: 2, action: 'edit', changed_segments: 1 } },
      ]);
    });
  },
  { OPENAI_BASE_URL: `${llm.origin}/v1`, OPENAI_API_KEY: 'sk-test', LLM_MODEL: 'gpt-test', LLM_REDACT_PII: 'off', WEBHOOK_ALLOW_PRIVATE: 'true' },
);
