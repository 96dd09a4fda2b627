import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, beforeEach, test } from 'node:test';
import type { ServerResponse } from 'node:http';
import { sql } from 'drizzle-orm';
import { asSystem } from '../../src/db/scope.js';
import { describeEachDatabase } from '../helpers/app.js';
import { bearer, createTextEntry, registerUser } from '../helpers/factory.js';
import { fakeServer, json, sse, startSse, within, type Received } from '../helpers/fake-llm.js';

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
    for (const [i, word] of words.entries()) {
      sse(res, null, { id: 'c', object: 'chat.completion.chunk', created: 0, model: 'gpt-test', choices: [{ index: 0, delta: i === 0 ? { role: 'assistant', content: word } : { content: word }, finish_reason: null }] });
    }
    sse(res, null, { id: 'c', object: 'chat.completion.chunk', created: 0, model: 'gpt-test', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
    sse(res, null, { id: 'c', object: 'chat.completion.chunk', created: 0, model: 'gpt-test', choices: [], usage: { prompt_tokens: 30, completion_tokens: 12, total_tokens: 42 } });
    sse(res, null, '[DONE]');
    res.end();
    return;
  }
  json(res, 200, {
    id: 'c',
    object: 'chat.completion',
    created: 0,
    model: 'gpt-test',
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 30, completion_tokens: 12, total_tokens: 42 },
  });
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
    case 'slow-stream': {
      startSse(res);
      for (let i = 0; i < 50 && !res.destroyed; i++) {
        sse(res, null, { id: 'c', object: 'chat.completion.chunk', created: 0, model: 'gpt-test', choices: [{ index: 0, delta: { content: `w${i} ` }, finish_reason: null }] });
        await sleep(50);
      }
      res.end();
      return;
    }
  }
});

const anthropic = await fakeServer(async (_req, res) => {
  json(res, 200, {
    id: 'msg',
    type: 'message',
    role: 'assistant',
    model: 'claude-test',
    content: [{ type: 'text', text: 'Claude says the budget rises [1].' }],
    stop_reason: 'end_turn',
    usage: { input_tokens: 20, output_tokens: 8 },
  });
});

after(async () => {
  await openai.close();
  await anthropic.close();
});

const LLM_ENV = {
  OPENAI_BASE_URL: `${openai.origin}/v1`,
  OPENAI_API_KEY: 'sk-test',
  LLM_MODEL: 'gpt-test',
  ANTHROPIC_BASE_URL: anthropic.origin,
  ANTHROPIC_API_KEY: 'sk-ant-test',
  LLM_ALLOWED_MODELS: 'anthropic:claude-test',
  LLM_MAX_RETRIES: '2',
  LLM_RETRY_BASE_MS: '5',
  LLM_TIMEOUT_MS: '700',
};

beforeEach(() => {
  mode = 'answer';
  answer = 'The budget rises by ten percent [1]. Invented detail [99].';
});

function lastPrompt(): string {
  const body = openai.requests.at(-1)!.body;
  return (body.messages ?? []).map((m) => `${m.role}: ${String(m.content)}`).join('\n');
}

describeEachDatabase(
  'chat over transcripts',
  (ctx) => {
    test('a grounded answer keeps only real citations, maps them to times, and stores usage', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const entry = await createTextEntry(app, user, { original_text: TRANSCRIPT, language: 'en' });
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/chat/completion',
        headers: bearer(user.accessToken),
        payload: { transcription_id: entry.transcription.id, message: 'What happens to the budget?' },
      });
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
      const user = await registerUser(app);
      const entry = await createTextEntry(app, user, { original_text: TRANSCRIPT, language: 'en' });
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/chat/completion',
        headers: { ...bearer(user.accessToken), accept: 'text/event-stream' },
        payload: { transcription_id: entry.transcription.id, message: 'Budget?' },
      });
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
      await app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = app.server.address() as AddressInfo;
      mode = 'slow-stream';
      const before = openai.requests.length;
      await new Promise<void>((resolve, reject) => {
        const req = http.request(
          { host: '127.0.0.1', port, method: 'POST', path: '/api/v1/chat/completion', headers: { ...bearer(user.accessToken), 'content-type': 'application/json' } },
          (res) => {
            res.once('data', () => {
              req.destroy();
              resolve();
            });
          },
        );
        req.on('error', () => undefined);
        req.end(JSON.stringify({ message: 'Talk for a while', stream: true }));
        setTimeout(() => reject(new Error('no data')), 5_000).unref();
      });
      await openai.received(before + 1);
      await within(openai.requests[before]!.closedEarly, 2_000, 'the provider request to be aborted');
    });

    test('429 then success is retried; 500s until giving up are 502; a hanging provider is 504', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const ask = () =>
        app.inject({ method: 'POST', url: '/api/v1/chat/completion', headers: bearer(user.accessToken), payload: { message: 'Hello?' } });

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
      const stolen = await app.inject({
        method: 'POST',
        url: '/api/v1/chat/completion',
        headers: bearer(other.accessToken),
        payload: { transcription_id: entry.transcription.id, message: 'What was said?' },
      });
      assert.equal(stolen.statusCode, 404);
      const ownSession = await app.inject({ method: 'POST', url: '/api/v1/chat/sessions', headers: bearer(owner.accessToken), payload: {} });
      for (const url of ['/api/v1/chat/completion', '/api/v1/chat/completion/async']) {
        const res = await app.inject({
          method: 'POST',
          url,
          headers: bearer(other.accessToken),
          payload: { session_id: ownSession.json().id, message: 'Let me in' },
        });
        assert.equal(res.statusCode, 404, url);
      }
      const intrusion = await app.inject({
        method: 'POST',
        url: `/api/v1/audio/${entry.id}/summary`,
        headers: bearer(other.accessToken),
      });
      assert.equal(intrusion.statusCode, 404);

      const notAllowed = await app.inject({
        method: 'POST',
        url: '/api/v1/chat/completion',
        headers: bearer(owner.accessToken),
        payload: { message: 'Hi', provider: 'openai', model: 'gpt-expensive' },
      });
      assert.equal(notAllowed.statusCode, 422);
      assert.equal(notAllowed.json().code, 'model_not_allowed');

      const claude = await app.inject({
        method: 'POST',
        url: '/api/v1/chat/completion',
        headers: bearer(owner.accessToken),
        payload: { transcription_id: entry.transcription.id, message: 'Budget?', provider: 'anthropic', model: 'claude-test' },
      });
      assert.equal(claude.statusCode, 200, claude.body);
      assert.equal(claude.json().provider, 'anthropic');
      assert.equal(claude.json().citations.length, 1);
      assert.deepEqual(claude.json().usage, { input_tokens: 20, output_tokens: 8 });
    });

    test('session messages: a user message is answered with the session’s history and transcript', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const entry = await createTextEntry(app, user, { original_text: TRANSCRIPT, language: 'en' });
      const session = await app.inject({
        method: 'POST',
        url: '/api/v1/chat/sessions',
        headers: bearer(user.accessToken),
        payload: { title: 'Q', transcription_id: entry.transcription.id },
      });
      const id = session.json().id;
      const first = await app.inject({
        method: 'POST',
        url: `/api/v1/chat/sessions/${id}/messages`,
        headers: bearer(user.accessToken),
        payload: { content: 'What about the budget?' },
      });
      assert.equal(first.statusCode, 201, first.body);
      assert.equal(first.json().role, 'user');
      assert.equal(first.json().reply.role, 'assistant');
      assert.equal(first.json().reply.citations.length, 1);

      answer = 'Maria sends it [3].';
      const second = await app.inject({
        method: 'POST',
        url: `/api/v1/chat/sessions/${id}/messages`,
        headers: bearer(user.accessToken),
        payload: { content: 'Who sends the report?' },
      });
      assert.equal(second.json().reply.content, 'Maria sends it [3].');
      const prompt = lastPrompt();
      assert.match(prompt, /user: What about the budget\?\nassistant: The budget rises/);
      assert.match(prompt, /Maria will send the report/);

      const quiet = await app.inject({
        method: 'POST',
        url: `/api/v1/chat/sessions/${id}/messages`,
        headers: bearer(user.accessToken),
        payload: { content: 'Just a note', reply: false },
      });
      assert.equal(quiet.json().reply, null);
    });

    test('async completion: 202 with a job; the answer lands in the session and on the job', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const entry = await createTextEntry(app, user, { original_text: TRANSCRIPT, language: 'en' });
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/chat/completion/async',
        headers: bearer(user.accessToken),
        payload: { transcription_id: entry.transcription.id, message: 'Budget?' },
      });
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
      const user = await registerUser(app);
      const entry = await createTextEntry(app, user, { original_text: TRANSCRIPT, language: 'en' });
      mode = 'summary';
      const before = openai.requests.length;
      const first = await app.inject({ method: 'POST', url: `/api/v1/audio/${entry.id}/summary`, headers: bearer(user.accessToken) });
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

      const again = await app.inject({ method: 'POST', url: `/api/v1/audio/${entry.id}/summary`, headers: bearer(user.accessToken) });
      assert.equal(again.json().cached, true);
      assert.equal(openai.requests.length - before, 1, 'no second LLM call');

      await asSystem(database.db, 'test: the transcript is corrected', (tx) =>
        tx.execute(sql`update transcript_segments set text = 'Lunch moves to one o''clock.' where transcription_id = ${entry.transcription.id} and index = 2`),
      );
      const changed = await app.inject({ method: 'POST', url: `/api/v1/audio/${entry.id}/summary`, headers: bearer(user.accessToken) });
      assert.equal(changed.json().cached, false);
      assert.equal(openai.requests.length - before, 2);
    });

    test('summary: a model that answers in prose instead of the JSON asked for is a 502, not a 500', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const entry = await createTextEntry(app, user, { original_text: TRANSCRIPT, language: 'en' });
      mode = 'answer';
      const res = await app.inject({ method: 'POST', url: `/api/v1/audio/${entry.id}/summary`, headers: bearer(user.accessToken) });
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
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/chat/completion',
        headers: bearer(user.accessToken),
        payload: { transcription_id: entry.transcription.id, message: 'When is the launch date?' },
      });
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
    const res = await app.inject({ method: 'POST', url: '/api/v1/chat/completion', headers: bearer(user.accessToken), payload: { message: 'Hi' } });
    assert.equal(res.statusCode, 503);
    assert.equal(res.json().code, 'llm_not_configured');
    assert.match(res.json().detail, /OPENAI_API_KEY/);
    assert.match(res.json().detail, /ANTHROPIC_API_KEY/);
    const session = await app.inject({ method: 'POST', url: '/api/v1/chat/sessions', headers: bearer(user.accessToken), payload: {} });
    const note = await app.inject({
      method: 'POST',
      url: `/api/v1/chat/sessions/${session.json().id}/messages`,
      headers: bearer(user.accessToken),
      payload: { content: 'stored only' },
    });
    assert.equal(note.statusCode, 201);
    assert.equal(note.json().reply, null);
    const forced = await app.inject({
      method: 'POST',
      url: `/api/v1/chat/sessions/${session.json().id}/messages`,
      headers: bearer(user.accessToken),
      payload: { content: 'answer me', reply: true },
    });
    assert.equal(forced.statusCode, 503);
  });
});
