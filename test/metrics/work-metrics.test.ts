import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { after, test } from 'node:test';
import { describeEachDatabase } from '../helpers/app.js';
import { audioForm, shortClip } from '../helpers/audio.js';
import { bearer, createTextEntry, registerUser } from '../helpers/factory.js';
import { fakeServer, json, sse, startSse } from '../helpers/fake-llm.js';
import { METRICS_TOKEN, scrape, valueOf } from './support.js';

const USAGE = { prompt_tokens: 30, completion_tokens: 12, total_tokens: 42 };
let failing = false;

function chunk(res: ServerResponse, delta: object, extra: object = {}) {
  sse(res, null, { id: 'c', object: 'chat.completion.chunk', created: 0, model: 'gpt-test-2025', choices: [{ index: 0, delta, finish_reason: null }], ...extra });
}

const openai = await fakeServer((req, res) => {
  if (failing) return json(res, 500, { error: { message: 'boom', type: 'server_error' } });
  if (!req.body.stream) {
    return json(res, 200, {
      id: 'c',
      object: 'chat.completion',
      created: 0,
      model: 'gpt-test-2025',
      choices: [{ index: 0, message: { role: 'assistant', content: 'The budget rises [1].' }, finish_reason: 'stop' }],
      usage: USAGE,
    });
  }
  startSse(res);
  chunk(res, { role: 'assistant', content: 'The budget ' });
  chunk(res, { content: 'rises [1].' });
  sse(res, null, { id: 'c', object: 'chat.completion.chunk', created: 0, model: 'gpt-test-2025', choices: [], usage: USAGE });
  sse(res, null, '[DONE]');
  res.end();
});
const receiver = await fakeServer((_req, res) => {
  res.writeHead(204);
  res.end();
});
after(async () => {
  await openai.close();
  await receiver.close();
});

describeEachDatabase(
  'metrics of the work behind the requests',
  (ctx) => {
    test('a sphinx transcription through the inline queue: job outcome, wait, real-time factor, webhook delivery', async () => {
      const { app } = ctx();
      const user = await registerUser(app, 'metrics-work');
      const hook = await app.inject({
        method: 'POST',
        url: '/api/v1/webhooks',
        headers: bearer(user.accessToken),
        payload: { url: `${receiver.origin}/hook`, events: ['transcription.completed'] },
      });
      assert.equal(hook.statusCode, 201, hook.body);
      const upload = await app.inject({
        method: 'POST',
        url: '/api/v1/audio/upload',
        headers: bearer(user.accessToken),
        payload: audioForm(await readFile(shortClip().wavPath), 'clip.wav', { language: 'en' }),
      });
      assert.equal(upload.statusCode, 201, upload.body);
      const done = await app.inject({
        method: 'POST',
        url: `/api/v1/audio/${upload.json().id}/transcribe?wait=120`,
        headers: bearer(user.accessToken),
        payload: { engine: 'sphinx' },
      });
      assert.equal(done.statusCode, 200, done.body);
      assert.equal(done.json().status, 'completed');
      await app.runtime.webhookDispatcher.tick();
      assert.equal(receiver.requests.length, 1);

      const text = await scrape(app);
      assert.equal(valueOf(text, 'transcribo_jobs_total', { type: 'transcription', outcome: 'completed' }), 1);
      assert.equal(valueOf(text, 'transcribo_job_wait_seconds_count', { type: 'transcription' }), 1);
      assert.equal(valueOf(text, 'transcribo_job_queue_depth', { type: 'transcription' }), 0);
      assert.equal(valueOf(text, 'transcribo_transcription_realtime_factor_count', { engine: 'sphinx' }), 1);
      const rtf = valueOf(text, 'transcribo_transcription_realtime_factor_sum', { engine: 'sphinx' })!;
      // 3 s of audio: a factor is positive and finite (its size depends on the machine).
      assert.ok(rtf > 0 && Number.isFinite(rtf), `real-time factor ${rtf}`);
      assert.equal(valueOf(text, 'transcribo_webhook_delivery_attempts_total', { outcome: 'delivered' }), 1);
    });

    test('LLM calls: tokens as reported and latency, by provider and the model asked for; streams and failures too', async () => {
      const { app } = ctx();
      const user = await registerUser(app, 'metrics-llm');
      const entry = await createTextEntry(app, user, { original_text: 'The budget rises by ten percent.', language: 'en' });
      const ask = (stream: boolean) =>
        app.inject({
          method: 'POST',
          url: '/api/v1/chat/completion',
          headers: bearer(user.accessToken),
          payload: { transcription_id: entry.transcription.id, message: 'What happens to the budget?', stream },
        });
      assert.equal((await ask(false)).statusCode, 200);
      const streamed = await ask(true);
      assert.equal(streamed.statusCode, 200);
      assert.match(streamed.body, /event: done/);
      failing = true;
      try {
        assert.equal((await ask(false)).statusCode, 502);
      } finally {
        failing = false;
      }

      const text = await scrape(app);
      const labels = { provider: 'openai', model: 'gpt-test' };
      assert.equal(valueOf(text, 'transcribo_llm_tokens_total', { ...labels, kind: 'input' }), 60);
      assert.equal(valueOf(text, 'transcribo_llm_tokens_total', { ...labels, kind: 'output' }), 24);
      assert.equal(valueOf(text, 'transcribo_llm_request_duration_seconds_count', { ...labels, outcome: 'ok' }), 2);
      assert.equal(valueOf(text, 'transcribo_llm_request_duration_seconds_count', { ...labels, outcome: 'error' }), 1);
      assert.ok(!text.includes('gpt-test-2025'), 'the model label is the one asked for, not what the provider answers');
      assert.ok(!text.includes(user.userId));
    });
  },
  {
    METRICS_TOKEN,
    WEBHOOK_ALLOW_PRIVATE: 'true',
    OPENAI_BASE_URL: `${openai.origin}/v1`,
    OPENAI_API_KEY: 'sk-test',
    LLM_MODEL: 'gpt-test',
    LLM_MAX_RETRIES: '0',
  },
  { startQueue: true },
);
