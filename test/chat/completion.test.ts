import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, beforeEach, test } from 'node:test';
import { sql } from 'drizzle-orm';
import type { App } from '../../src/app.js';
import { asSystem } from '../../src/db/scope.js';
import { describeEachDatabase } from '../helpers/app.js';
import { bearer, createTextEntry, registerUser, type TestUser } from '../helpers/factory.js';
import {
  anthropicMessage,
  endOpenaiStream,
  fakeLlmEnv,
  fakeServer,
  json,
  openaiChunk,
  openaiCompletion,
  slowOpenaiStream,
  sse,
  startSse,
  type Received,
} from '../helpers/fake-llm.js';
import { hangUpMidStream } from '../helpers/stream-hang-up.js';

const TRANSCRIPT =
  'Good morning everyone. The marketing budget rises by ten percent next quarter. ' +
  'Lunch will be served at noon. Maria will send the report by Friday.';

/** What the fake OpenAI server does next; tests set it. */
type Mode = 'answer' | 'rate-limit-once' | 'fail' | 'hang' | 'slow-stream' | 'summary';
let mode: Mode = 'answer';
let answer = 'The budget rises by ten percent [1]. Invented detail [99].';

function openaiAnswer(res: ServerResponse, body: Received['body'], text: string) {
  if (body.stream) {
    startSse(res);
    const words = text.match(/\S+\s*/g) ?? [];
    for (const [i, word] of words.entries()) sse(res, null, openaiChunk(i === 0 ? { role: 'assistant', content: word } : { content: word }));
    endOpenaiStream(res, { prompt_tokens: 30, completion_tokens: 12 });
    return;
  }
  json(res, 200, openaiCompletion(text));
}

const openai = await fakeServer(async (req, res) => {
  switch (mode) {
    case 'answer':
      return openaiAnswer(res, req.body, answer);
    case 'summary':
      return openaiAnswer(
        res,
        req.body,
        JSON.stringify({
          summary: 'A short meeting about the budget.',
          key_points: [{ text: 'Budget up ten percent', segments: [1, 42] }],
          action_items: [{ text: 'Send the report', owner: 'Maria', segments: [3] }],
          language: 'en',
        }),
      );
    case 'rate-limit-once':
      mode = 'answer';
      return json(res, 429, { error: { message: 'slow down', type: 'rate_limit' } }, { 'retry-after-ms': '10' });
    case 'fail':
      return json(res, 500, { error: { message: 'boom', type: 'server_error' } });
    case 'hang':
      return; // never answers
    case 'slow-stream':
      return slowOpenaiStream(res, 50, 50);
  }
});

const anthropic = await fakeServer(async (_req, res) => {
  json(res, 200, anthropicMessage('Claude says the budget rises [1].'));
});

after(async () => {
  await openai.close();
  await anthropic.close();
});

const LLM_ENV = {
  ...fakeLlmEnv(openai, anthropic),
  LLM_MAX_RETRIES: '2',
  LLM_RETRY_BASE_MS: '5',
  LLM_TIMEOUT_MS: '700',
};

beforeEach(() => {
  mode = 'answer';
  answer = 'The budget rises by ten percent [1]. Invented detail [99].';
});

/** A new user with TRANSCRIPT as a text entry. */
async function userWithTranscript(app: App) {
  const user = await registerUser(app);
  const entry = await createTextEntry(app, user, { original_text: TRANSCRIPT, language: 'en' });
  return { user, entry };
}

/** POSTs to `url` as `user`. */
function post(app: App, user: TestUser, url: string, payload?: object, headers: Record<string, string> = {}) {
  return app.inject({ method: 'POST', url, headers: { ...bearer(user.accessToken), ...headers }, ...(payload && { payload }) });
}

const COMPLETION = '/api/v1/chat/completion';

function lastPrompt(): string {
  const body = openai.requests.at(-1)!.body;
  return (body.messages ?? []).map((m) => `${m.role}: ${String(m.content)}`).join('\n');
}

describeEachDatabase(
  'chat over transcripts',
  (ctx) => {
    test('a grounded answer keeps only real citations, maps them to times, and stores usage', async () => {
      const { app } = ctx();
      const { user, entry } = await userWithTranscript(app);
      const res = await post(app, user, COMPLETION, { transcription_id: entry.transcription.id, message: 'What happens to the budget?' });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.content, 'The budget rises by ten percent [1]. Invented detail.');
      assert.deepEqual(
        body.citations.map((c: { segment_id: string; text: string }) => [c.segment_id, c.text]),
        [[entry.transcription.segments[1]!.id, 'The marketing budget rises by ten percent next quarter.']],
      );
      assert.deepEqual(body.usage, { input_tokens: 30, output_tokens: 12 });
      assert.equal(body.provider, 'openai');
      assert.equal(body.model, 'gpt-test');

      const prompt = lastPrompt();
      assert.match(prompt, /\[1\] .*The marketing budget rises/);
      assert.match(prompt, /cite/i);
      assert.match(prompt, /user: What happens to the budget\?$/);

      const session = await app.inject({ method: 'GET', url: `/api/v1/chat/sessions/${body.session_id}`, headers: bearer(user.accessToken) });
      const messages = session.json().messages;
      assert.deepEqual(messages.map((m: { role: string }) => m.role), ['user', 'assistant']);
      const stored = messages[1];
      assert.equal(stored.id, body.message_id);
      assert.equal(stored.provider, 'openai');
      assert.equal(stored.input_tokens, 30);
      assert.equal(stored.output_tokens, 12);
      assert.equal(typeof stored.latency_ms, 'number');
      assert.equal(stored.citations.length, 1);
      assert.equal(session.json().transcription_id, entry.transcription.id);
    });

    test('streamed: SSE deltas in order, then a done event with citations and usage', async () => {
      const { app } = ctx();
      const { user, entry } = await userWithTranscript(app);
      const res = await post(app, user, COMPLETION, { transcription_id: entry.transcription.id, message: 'Budget?' }, { accept: 'text/event-stream' });
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /^text\/event-stream/);
      const events = res.body
        .trim()
        .split('\n\n')
        .map((block) => {
          const [eventLine, dataLine] = block.split('\n');
          return { event: eventLine!.slice('event: '.length), data: JSON.parse(dataLine!.slice('data: '.length)) };
        });
      const deltas = events.filter((e) => e.event === 'delta').map((e) => e.data.text).join('');
      assert.equal(deltas, answer);
      const done = events.at(-1)!;
      assert.equal(done.event, 'done');
      assert.equal(done.data.citations.length, 1);
      assert.deepEqual(done.data.usage, { input_tokens: 30, output_tokens: 12 });
      assert.equal(done.data.content, 'The budget rises by ten percent [1]. Invented detail.');
    });

    test('a client that disconnects mid-stream aborts the provider request', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      mode = 'slow-stream';
      await hangUpMidStream(app, user, openai, { firstBytes: 5_000, aborted: 2_000 });
    });

    test('429 then success is retried; 500s until giving up are 502; a hanging provider is 504', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const ask = () => post(app, user, COMPLETION, { message: 'Hello?' });

      mode = 'rate-limit-once';
      let before = openai.requests.length;
      const retried = await ask();
      assert.equal(retried.statusCode, 200, retried.body);
      assert.equal(openai.requests.length - before, 2);

      mode = 'fail';
      before = openai.requests.length;
      const failed = await ask();
      assert.equal(failed.statusCode, 502);
      assert.equal(failed.json().code, 'llm_unavailable');
      assert.equal(openai.requests.length - before, 3, 'one try and LLM_MAX_RETRIES=2 retries');

      mode = 'hang';
      const hung = await ask();
      assert.equal(hung.statusCode, 504, hung.body);
      assert.equal(hung.json().code, 'llm_timeout');
    });

    test('another user’s transcription is 404; a model outside the allow-list is 422; an allowed Anthropic model answers', async () => {
      const { app } = ctx();
      const owner = await registerUser(app);
      const other = await registerUser(app);
      const entry = await createTextEntry(app, owner, { original_text: TRANSCRIPT, language: 'en' });
      const stolen = await post(app, other, COMPLETION, { transcription_id: entry.transcription.id, message: 'What was said?' });
      assert.equal(stolen.statusCode, 404);
      const ownSession = await post(app, owner, '/api/v1/chat/sessions', {});
      for (const url of [COMPLETION, `${COMPLETION}/async`]) {
        const res = await post(app, other, url, { session_id: ownSession.json().id, message: 'Let me in' });
        assert.equal(res.statusCode, 404, url);
      }
      const intrusion = await post(app, other, `/api/v1/audio/${entry.id}/summary`);
      assert.equal(intrusion.statusCode, 404);

      const notAllowed = await post(app, owner, COMPLETION, { message: 'Hi', provider: 'openai', model: 'gpt-expensive' });
      assert.equal(notAllowed.statusCode, 422);
      assert.equal(notAllowed.json().code, 'model_not_allowed');

      const claude = await post(app, owner, COMPLETION, {
        transcription_id: entry.transcription.id,
        message: 'Budget?',
        provider: 'anthropic',
        model: 'claude-test',
      });
      assert.equal(claude.statusCode, 200, claude.body);
      assert.equal(claude.json().provider, 'anthropic');
      assert.equal(claude.json().citations.length, 1);
      assert.deepEqual(claude.json().usage, { input_tokens: 20, output_tokens: 8 });
    });

    test('session messages: a user message is answered with the session’s history and transcript', async () => {
      const { app } = ctx();
      const { user, entry } = await userWithTranscript(app);
      const session = await post(app, user, '/api/v1/chat/sessions', { title: 'Q', transcription_id: entry.transcription.id });
      const messagesUrl = `/api/v1/chat/sessions/${session.json().id}/messages`;
      const first = await post(app, user, messagesUrl, { content: 'What about the budget?' });
      assert.equal(first.statusCode, 201, first.body);
      assert.equal(first.json().role, 'user');
      assert.equal(first.json().reply.role, 'assistant');
      assert.equal(first.json().reply.citations.length, 1);

      answer = 'Maria sends it [3].';
      const second = await post(app, user, messagesUrl, { content: 'Who sends the report?' });
      assert.equal(second.json().reply.content, 'Maria sends it [3].');
      const prompt = lastPrompt();
      assert.match(prompt, /user: What about the budget\?\nassistant: The budget rises/);
      assert.match(prompt, /Maria will send the report/);

      const quiet = await post(app, user, messagesUrl, { content: 'Just a note', reply: false });
      assert.equal(quiet.json().reply, null);
    });

    test('async completion: 202 with a job; the answer lands in the session and on the job', async () => {
      const { app } = ctx();
      const { user, entry } = await userWithTranscript(app);
      const res = await post(app, user, `${COMPLETION}/async`, { transcription_id: entry.transcription.id, message: 'Budget?' });
      assert.equal(res.statusCode, 202, res.body);
      const { job_id, session_id } = res.json();
      let job;
      for (let i = 0; i < 100; i++) {
        job = (await app.inject({ method: 'GET', url: `/api/v1/jobs/${job_id}`, headers: bearer(user.accessToken) })).json();
        if (job.status === 'completed' || job.status === 'failed') break;
        await sleep(50);
      }
      assert.equal(job.status, 'completed', JSON.stringify(job));
      const session = await app.inject({ method: 'GET', url: `/api/v1/chat/sessions/${session_id}`, headers: bearer(user.accessToken) });
      const messages = session.json().messages;
      assert.deepEqual(messages.map((m: { role: string }) => m.role), ['user', 'assistant']);
      assert.equal(job.result.message_id, messages[1].id);
      assert.equal(messages[1].citations.length, 1);
    });

    test('summary: structured output with citations, stored, reused without a call until the transcript changes', async () => {
      const { app, database } = ctx();
      const { user, entry } = await userWithTranscript(app);
      const summarise = () => post(app, user, `/api/v1/audio/${entry.id}/summary`);
      mode = 'summary';
      const before = openai.requests.length;
      const first = await summarise();
      assert.equal(first.statusCode, 200, first.body);
      const s = first.json();
      assert.equal(s.summary, 'A short meeting about the budget.');
      assert.deepEqual(s.key_points, [{ text: 'Budget up ten percent', segments: [1] }], 'invented segment 42 dropped');
      assert.equal(s.action_items[0].owner, 'Maria');
      assert.deepEqual(s.citations.map((c: { text: string }) => c.text), [
        'The marketing budget rises by ten percent next quarter.',
        'Maria will send the report by Friday.',
      ]);
      assert.equal(s.cached, false);
      assert.equal(openai.requests.length - before, 1);
      assert.deepEqual(openai.requests.at(-1)!.body.response_format, { type: 'json_object' });

      const again = await summarise();
      assert.equal(again.json().cached, true);
      assert.equal(openai.requests.length - before, 1, 'no second LLM call');

      await asSystem(database.db, 'test: the transcript is corrected', (tx) =>
        tx.execute(sql`update transcript_segments set text = 'Lunch moves to one o''clock.' where transcription_id = ${entry.transcription.id} and index = 2`),
      );
      const changed = await summarise();
      assert.equal(changed.json().cached, false);
      assert.equal(openai.requests.length - before, 2);
    });

    test('summary: a model that answers in prose instead of the JSON asked for is a 502, not a 500', async () => {
      const { app } = ctx();
      const { user, entry } = await userWithTranscript(app);
      mode = 'answer';
      const res = await post(app, user, `/api/v1/audio/${entry.id}/summary`);
      assert.equal(res.statusCode, 502, res.body);
      assert.equal(res.json().code, 'llm_invalid_reply');
      assert.match(res.json().detail, /not a JSON object/);
    });
  },
  LLM_ENV,
  { startQueue: true },
);

describeEachDatabase(
  'chat over a long transcript (tiny context budget)',
  (ctx) => {
    test('only the passages that match the question, with their neighbours, reach the model', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const filler = Array.from({ length: 40 }, (_, i) => `Item ${i} concerns the weather and traffic reports.`).join(' ');
      const entry = await createTextEntry(app, user, {
        original_text: `${filler} The secret launch date is the fifth of May. ${filler}`,
        language: 'en',
      });
      const res = await post(app, user, COMPLETION, { transcription_id: entry.transcription.id, message: 'When is the launch date?' });
      assert.equal(res.statusCode, 200, res.body);
      const prompt = lastPrompt();
      assert.match(prompt, /\[40\] .*secret launch date/);
      assert.match(prompt, /\[39\] /, 'the neighbour before');
      assert.match(prompt, /\[41\] /, 'the neighbour after');
      assert.doesNotMatch(prompt, /\[5\] /, 'unrelated passages stay out');
    });
  },
  { ...LLM_ENV, LLM_CONTEXT_TOKENS: '400' },
);

describeEachDatabase('chat without a configured provider', (ctx) => {
  test('503 llm_not_configured naming the variables; session messages are stored without a reply', async () => {
    const { app } = ctx();
    const user = await registerUser(app);
    const res = await post(app, user, COMPLETION, { message: 'Hi' });
    assert.equal(res.statusCode, 503);
    assert.equal(res.json().code, 'llm_not_configured');
    assert.match(res.json().detail, /OPENAI_API_KEY/);
    assert.match(res.json().detail, /ANTHROPIC_API_KEY/);
    const session = await post(app, user, '/api/v1/chat/sessions', {});
    const messagesUrl = `/api/v1/chat/sessions/${session.json().id}/messages`;
    const note = await post(app, user, messagesUrl, { content: 'stored only' });
    assert.equal(note.statusCode, 201);
    assert.equal(note.json().reply, null);
    const forced = await post(app, user, messagesUrl, { content: 'answer me', reply: true });
    assert.equal(forced.statusCode, 503);
  });
});
