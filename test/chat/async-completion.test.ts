/**
 * POST /chat/completion/async answers through the same path as the synchronous route (the same
 * limits, the same record), and stores its question in the transaction that queues its job.
 */

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { sql } from 'drizzle-orm';
import type { App } from '../../src/app.js';
import { queryRows } from '../../src/db/client.js';
import { asSystem } from '../../src/db/scope.js';
import { describeEachDatabase } from '../helpers/app.js';
import { bearer, createTextEntry, registerUser, type TestUser } from '../helpers/factory.js';
import { fakeServer, json, openaiCompletion } from '../helpers/fake-llm.js';
import { waitUntil } from '../helpers/server-process.js';

const TRANSCRIPT = 'The budget rises by ten percent next quarter. Maria will send the report by Friday.';

const openai = await fakeServer((_request, res) => {
  json(res, 200, openaiCompletion('It rises by ten percent [1].', { prompt_tokens: 30, completion_tokens: 9 }));
});
after(() => openai.close());

/** The max_tokens of the provider request whose last message is `question`. */
function maxTokensAskedFor(question: string): number | undefined {
  const request = openai.requests.find((r) => r.body.messages?.at(-1)?.content === question);
  assert.ok(request, `the provider was asked "${question}"`);
  return request.body.max_tokens;
}

async function settledJob(app: App, user: TestUser, id: string) {
  return waitUntil(`job ${id} settled`, async () => {
    const job = (await app.inject({ method: 'GET', url: `/api/v1/jobs/${id}`, headers: bearer(user.accessToken) })).json();
    return job.status === 'completed' || job.status === 'failed' ? job : null;
  }, 30_000);
}

describeEachDatabase(
  'async chat completions',
  (ctx) => {
    test('an async answer asks for LLM_MAX_OUTPUT_TOKENS as an answer given at once does, and is stored the same way', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const entry = await createTextEntry(app, user, { original_text: TRANSCRIPT, language: 'en' });
      const payload = { transcription_id: entry.transcription.id };

      const now = await app.inject({
        method: 'POST',
        url: '/api/v1/chat/completion',
        headers: bearer(user.accessToken),
        payload: { ...payload, message: 'Budget now?' },
      });
      assert.equal(now.statusCode, 200, now.body);
      assert.equal(maxTokensAskedFor('Budget now?'), 77);

      const later = await app.inject({
        method: 'POST',
        url: '/api/v1/chat/completion/async',
        headers: bearer(user.accessToken),
        payload: { ...payload, message: 'Budget later?' },
      });
      assert.equal(later.statusCode, 202, later.body);
      const job = await settledJob(app, user, later.json().job_id);
      assert.equal(job.status, 'completed', JSON.stringify(job));
      assert.equal(maxTokensAskedFor('Budget later?'), 77);

      const session = await app.inject({ method: 'GET', url: `/api/v1/chat/sessions/${later.json().session_id}`, headers: bearer(user.accessToken) });
      const [question, answer] = session.json().messages;
      assert.equal(question.id, later.json().message_id);
      assert.equal(answer.id, job.result.message_id);
      const cited = (citations: Array<{ segment_id: string }>) => citations.map((c) => c.segment_id);
      assert.deepEqual(
        { tokens: [answer.input_tokens, answer.output_tokens], cited: cited(answer.citations) },
        { tokens: [now.json().usage.input_tokens, now.json().usage.output_tokens], cited: cited(now.json().citations) },
      );
      assert.equal(answer.citations.length, 1);
    });

    test('a question whose job cannot be queued is not stored: they commit together', async () => {
      const { app, database } = ctx();
      const user = await registerUser(app);
      const session = await app.inject({ method: 'POST', url: '/api/v1/chat/sessions', headers: bearer(user.accessToken), payload: { title: 'kept' } });
      const sessionId: string = session.json().id;
      // A real failure of the job's insert, for this user only: the queue's enqueue throws.
      await database.db.execute(
        sql.raw(`create function test_refuse_jobs() returns trigger language plpgsql as $$
                 begin
                   if new.user_id = '${user.userId}' then raise exception 'jobs refused for the test'; end if;
                   return new;
                 end $$`),
      );
      await database.db.execute(sql.raw('create trigger test_refuse_jobs before insert on jobs for each row execute function test_refuse_jobs()'));
      try {
        for (const payload of [{ message: 'In a new session?' }, { message: 'In the kept session?', session_id: sessionId }]) {
          const res = await app.inject({ method: 'POST', url: '/api/v1/chat/completion/async', headers: bearer(user.accessToken), payload });
          assert.equal(res.statusCode, 500, res.body);
        }
      } finally {
        await database.db.execute(sql.raw('drop trigger test_refuse_jobs on jobs'));
        await database.db.execute(sql.raw('drop function test_refuse_jobs()'));
      }
      const stored = await asSystem(database.db, 'test: the user’s chat rows', async (tx) => ({
        sessions: await queryRows<{ title: string }>(tx, sql`select title from chat_sessions where user_id = ${user.userId}`),
        messages: await queryRows<{ content: string }>(tx, sql`select content from chat_messages where user_id = ${user.userId}`),
      }));
      assert.deepEqual(stored, { sessions: [{ title: 'kept' }], messages: [] });
    });
  },
  {
    OPENAI_BASE_URL: `${openai.origin}/v1`,
    OPENAI_API_KEY: 'sk-test',
    LLM_MODEL: 'gpt-test',
    LLM_MAX_OUTPUT_TOKENS: '77',
  },
  { startQueue: true },
);
