/**
 * Stored summaries: per provider/model, stale once the transcript changes (text or speaker), made
 * again by POST or `?refresh=true`, read by GET without an LLM call, and never reused across a
 * redaction mismatch.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { sql } from 'drizzle-orm';
import type { App } from '../../src/app.js';
import { transcriptHash } from '../../src/chat/summary-cache.js';
import { queryRows } from '../../src/db/client.js';
import { newId } from '../../src/db/ids.js';
import { asSystem } from '../../src/db/scope.js';
import { describeEachDatabase } from '../helpers/app.js';
import { bearer, createTextEntry, registerUser, type TestUser } from '../helpers/factory.js';
import { anthropicMessage, fakeLlmEnv, fakeServer, json, openaiCompletion, type FakeServer } from '../helpers/fake-llm.js';

const TRANSCRIPT =
  'Ana: Good morning everyone. The marketing budget rises by ten percent next quarter.\n' +
  'Maria: Lunch will be served at noon. I will send the report to maria@example.com by Friday.';

/** A summary naming the call that made it, so a new one reads differently from the stored one. */
function summaryJson(by: string, index: number): string {
  return JSON.stringify({
    summary: `Summary ${index + 1} by ${by}.`,
    key_points: [{ text: 'Budget up ten percent', segments: [1] }],
    action_items: [{ text: 'Send the report', owner: 'Maria', segments: [3] }],
    language: 'en',
  });
}

const openai = await fakeServer((_req, res, index) => json(res, 200, openaiCompletion(summaryJson('openai', index))));

// Anthropic's JSON mode prefills "{": the reply continues it.
const anthropic = await fakeServer((_req, res, index) => json(res, 200, anthropicMessage(summaryJson('anthropic', index).slice(1))));

after(async () => {
  await openai.close();
  await anthropic.close();
});

const LLM_ENV = { ...fakeLlmEnv(openai, anthropic), LLM_MAX_RETRIES: '0' };

/** Everything a provider was sent in its last request. */
function lastSent(server: FakeServer): string {
  return JSON.stringify(server.requests.at(-1)!.body);
}

function summaryApi(app: App, user: TestUser, recordingId: string) {
  const url = `/api/v1/audio/${recordingId}/summary`;
  return {
    post: (payload?: object, query = '') =>
      app.inject({ method: 'POST', url: `${url}${query}`, headers: bearer(user.accessToken), ...(payload ? { payload } : {}) }),
    get: (query = '') => app.inject({ method: 'GET', url: `${url}${query}`, headers: bearer(user.accessToken) }),
  };
}

type Summary = { summary: string; cached: boolean; stale: boolean; redacted: boolean; provider: string; model: string; transcription_id: string };

function ok(res: { statusCode: number; body: string; json<T>(): T }): Summary {
  assert.equal(res.statusCode, 200, res.body);
  return res.json<Summary>();
}

describeEachDatabase(
  'summaries: stale, refreshed, per provider and model',
  (ctx) => {
    test('GET before any summary is 404 summary_not_found, and calls no model', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const entry = await createTextEntry(app, user, { original_text: TRANSCRIPT, language: 'en' });
      const calls = openai.requests.length + anthropic.requests.length;
      const res = await summaryApi(app, user, entry.id).get();
      assert.equal(res.statusCode, 404, res.body);
      assert.equal(res.json().code, 'summary_not_found');
      assert.equal(openai.requests.length + anthropic.requests.length, calls);
    });

    test('an edited segment makes the summary stale; POST makes it again from the new text', async () => {
      const { app, database } = ctx();
      const user = await registerUser(app);
      const entry = await createTextEntry(app, user, { original_text: TRANSCRIPT, language: 'en' });
      const api = summaryApi(app, user, entry.id);
      const before = openai.requests.length;

      const first = ok(await api.post());
      assert.deepEqual([first.cached, first.stale, first.provider, first.model], [false, false, 'openai', 'gpt-test']);
      assert.equal(openai.requests.length - before, 1);
      const shown = ok(await api.get());
      assert.deepEqual([shown.summary, shown.cached, shown.stale], [first.summary, true, false]);

      await asSystem(database.db, 'test: the transcript is corrected', (tx) =>
        tx.execute(sql`update transcript_segments set text = 'Lunch moves to one o''clock.' where transcription_id = ${entry.transcription.id} and index = 2`),
      );
      const stale = ok(await api.get());
      assert.deepEqual([stale.summary, stale.stale], [first.summary, true], 'the old summary, marked stale');
      assert.equal(openai.requests.length - before, 1, 'GET never calls the model');

      const again = ok(await api.post());
      assert.deepEqual([again.cached, again.stale], [false, false]);
      assert.notEqual(again.summary, first.summary);
      assert.equal(openai.requests.length - before, 2);
      assert.match(lastSent(openai), /Lunch moves to one o'clock/);
      assert.doesNotMatch(lastSent(openai), /Lunch will be served/);
      const fresh = ok(await api.get());
      assert.deepEqual([fresh.summary, fresh.stale], [again.summary, false]);
      assert.equal(ok(await api.post()).cached, true, 'the new one is reused');
      assert.equal(openai.requests.length - before, 2);
    });

    test('a renamed speaker makes it stale too', async () => {
      const { app, database } = ctx();
      const user = await registerUser(app);
      const entry = await createTextEntry(app, user, { original_text: TRANSCRIPT, language: 'en' });
      const api = summaryApi(app, user, entry.id);
      ok(await api.post());
      await asSystem(database.db, 'test: a speaker is named', (tx) =>
        tx.execute(sql`update transcript_segments set speaker = 'Ana López' where transcription_id = ${entry.transcription.id} and speaker = 'Ana'`),
      );
      assert.equal(ok(await api.get()).stale, true);
      const before = openai.requests.length;
      assert.equal(ok(await api.post()).cached, false);
      assert.equal(openai.requests.length - before, 1);
      assert.match(lastSent(openai), /Ana López/);
    });

    test('?refresh=true makes it again even when the stored one is current, and replaces it', async () => {
      const { app, database } = ctx();
      const user = await registerUser(app);
      const entry = await createTextEntry(app, user, { original_text: TRANSCRIPT, language: 'en' });
      const api = summaryApi(app, user, entry.id);
      const first = ok(await api.post());
      const before = openai.requests.length;
      assert.equal(ok(await api.post(undefined, '?refresh=false')).cached, true);
      assert.equal(openai.requests.length, before);

      const refreshed = ok(await api.post(undefined, '?refresh=true'));
      assert.deepEqual([refreshed.cached, refreshed.stale], [false, false]);
      assert.notEqual(refreshed.summary, first.summary);
      assert.equal(openai.requests.length - before, 1);
      assert.equal(ok(await api.get()).summary, refreshed.summary);
      const [{ count }] = (await asSystem(database.db, 'test: stored summaries', (tx) =>
        queryRows<{ count: number }>(tx, sql`select count(*)::int as count from transcript_summaries where transcription_id = ${entry.transcription.id}`),
      )) as [{ count: number }];
      assert.equal(count, 1, 'one row per provider and model');
    });

    test('each provider/model has its own summary: none answers for another, each is reused, GET filters', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const entry = await createTextEntry(app, user, { original_text: TRANSCRIPT, language: 'en' });
      const api = summaryApi(app, user, entry.id);
      const [openaiBefore, anthropicBefore] = [openai.requests.length, anthropic.requests.length];
      const calls = () => [openai.requests.length - openaiBefore, anthropic.requests.length - anthropicBefore];

      const byOpenai = ok(await api.post());
      assert.deepEqual(calls(), [1, 0]);
      const byClaude = ok(await api.post({ provider: 'anthropic', model: 'claude-test' }));
      assert.deepEqual([byClaude.cached, byClaude.provider, byClaude.model], [false, 'anthropic', 'claude-test']);
      assert.match(byClaude.summary, /by anthropic/);
      assert.deepEqual(calls(), [1, 1], 'not answered from the openai summary');

      assert.deepEqual(ok(await api.post({ provider: 'anthropic', model: 'claude-test' })).cached, true);
      const openaiAgain = ok(await api.post({ provider: 'openai', model: 'gpt-test' }));
      assert.deepEqual([openaiAgain.cached, openaiAgain.summary], [true, byOpenai.summary], 'the default, named, is the same choice');
      assert.deepEqual(calls(), [1, 1]);

      assert.equal(ok(await api.get()).provider, 'anthropic', 'the one made last');
      assert.equal(ok(await api.get('?provider=openai')).summary, byOpenai.summary);
      assert.equal(ok(await api.get('?model=claude-test')).summary, byClaude.summary);
      const none = await api.get('?provider=anthropic&model=gpt-test');
      assert.equal(none.statusCode, 404, none.body);
      assert.equal(none.json().code, 'summary_not_found');
      assert.equal((await api.get('?provider=mistral')).statusCode, 422);
      assert.deepEqual(calls(), [1, 1]);
    });

    test('a summary made without redaction does not answer a request that redacts, nor the other way round', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const entry = await createTextEntry(app, user, { original_text: TRANSCRIPT, language: 'en' });
      const api = summaryApi(app, user, entry.id);
      const before = openai.requests.length;
      // The fakes are on loopback: the server's default mode (cloud) sends them the text as it is.
      assert.equal(ok(await api.post()).redacted, false);
      assert.match(lastSent(openai), /maria@example\.com/);

      const redacted = ok(await api.post({ redact: true }));
      assert.deepEqual([redacted.cached, redacted.redacted], [false, true]);
      assert.equal(openai.requests.length - before, 2);
      assert.doesNotMatch(lastSent(openai), /maria@example\.com/);
      assert.equal(ok(await api.post({ redact: true })).cached, true);
      assert.equal(ok(await api.get()).redacted, true);

      assert.equal(ok(await api.post({ redact: false })).cached, false);
      assert.equal(openai.requests.length - before, 3);
    });

    test("another user can neither read nor make a user's summary", async () => {
      const { app } = ctx();
      const owner = await registerUser(app, 'owner');
      const other = await registerUser(app, 'other');
      const entry = await createTextEntry(app, owner, { original_text: TRANSCRIPT, language: 'en' });
      ok(await summaryApi(app, owner, entry.id).post());
      const before = openai.requests.length;
      for (const res of [await summaryApi(app, other, entry.id).get(), await summaryApi(app, other, entry.id).post()]) {
        assert.equal(res.statusCode, 404, res.body);
        assert.equal(res.json().code, 'not_found');
      }
      assert.equal(openai.requests.length, before);
    });
  },
  LLM_ENV,
);

describeEachDatabase(
  'summaries when the server always redacts',
  (ctx) => {
    test('a stored summary made without redaction (before LLM_REDACT_PII=all) is made again, redacted', async () => {
      const { app, database } = ctx();
      const user = await registerUser(app);
      const entry = await createTextEntry(app, user, { original_text: TRANSCRIPT, language: 'en' });
      await asSystem(database.db, 'test: a summary stored under an earlier policy', async (tx) => {
        const segments = await queryRows<{ index: number; speaker: string | null; text: string }>(
          tx,
          sql`select index, speaker, text from transcript_segments where transcription_id = ${entry.transcription.id} order by index`,
        );
        const content = { summary: 'Made unredacted.', key_points: [], action_items: [], language: 'en', citations: [] };
        await tx.execute(sql`insert into transcript_summaries (id, transcription_id, user_id, transcript_hash, content, provider, model,
                                                               input_tokens, output_tokens, latency_ms, redacted)
                             values (${newId()}, ${entry.transcription.id}, ${user.userId}, ${transcriptHash(segments)},
                                     ${JSON.stringify(content)}::jsonb, 'openai', 'gpt-test', 1, 1, 1, false)`);
      });
      const api = summaryApi(app, user, entry.id);
      const planted = ok(await api.get());
      assert.deepEqual([planted.summary, planted.stale, planted.redacted], ['Made unredacted.', false, false], 'the hash matches');

      const before = openai.requests.length;
      const made = ok(await api.post({ redact: false }));
      assert.deepEqual([made.cached, made.redacted], [false, true], 'redact:false cannot loosen the server');
      assert.equal(openai.requests.length - before, 1);
      assert.doesNotMatch(lastSent(openai), /maria@example\.com/);
      assert.equal(ok(await api.post()).cached, true);
    });
  },
  { ...LLM_ENV, LLM_REDACT_PII: 'all' },
);
