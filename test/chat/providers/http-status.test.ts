/**
 * A provider's refusal reaches the client with its meaning intact: its 429 is our 429 and its 503
 * (Anthropic's 529) our 503, each with the provider's Retry-After; other 5xx are a 502. Through the
 * real SDKs, against fake OpenAI and Anthropic servers on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { App } from '../../../src/app.js';
import { describeEachDatabase } from '../../helpers/app.js';
import { bearer, registerUser } from '../../helpers/factory.js';
import { fakeServer, json } from '../../helpers/fake-llm.js';

/** What both fake providers answer next; tests set it. */
let reply: { status: number; headers?: Record<string, string> } = { status: 500 };

const openai = await fakeServer((_req, res) =>
  json(res, reply.status, { error: { message: `openai says ${reply.status}`, type: 'server_error' } }, reply.headers),
);
const anthropic = await fakeServer((_req, res) =>
  json(res, reply.status, { type: 'error', error: { type: 'overloaded_error', message: `anthropic says ${reply.status}` } }, reply.headers),
);
after(async () => {
  await openai.close();
  await anthropic.close();
});

async function ask(app: App) {
  const user = await registerUser(app);
  return app.inject({ method: 'POST', url: '/api/v1/chat/completion', headers: bearer(user.accessToken), payload: { message: 'Hello?' } });
}

/** Retries off: each request meets the provider's answer once. */
const common = { LLM_MAX_RETRIES: '0' };

describeEachDatabase(
  'provider statuses through the OpenAI SDK',
  (ctx) => {
    test('429 is 429 llm_rate_limited with the provider’s Retry-After', async () => {
      reply = { status: 429, headers: { 'retry-after': '7' } };
      const res = await ask(ctx().app);
      assert.equal(res.statusCode, 429, res.body);
      assert.equal(res.json().code, 'llm_rate_limited');
      assert.equal(res.headers['retry-after'], '7');
      assert.match(res.json().detail, /openai says 429/);
    });

    test('503 is 503 llm_overloaded; retry-after-ms is rounded up to whole seconds', async () => {
      reply = { status: 503, headers: { 'retry-after-ms': '2500' } };
      const res = await ask(ctx().app);
      assert.equal(res.statusCode, 503, res.body);
      assert.equal(res.json().code, 'llm_overloaded');
      assert.equal(res.headers['retry-after'], '3');
    });

    test('503 without a Retry-After still suggests a wait', async () => {
      reply = { status: 503 };
      const res = await ask(ctx().app);
      assert.equal(res.statusCode, 503, res.body);
      assert.ok(Number(res.headers['retry-after']) > 0, `retry-after: ${String(res.headers['retry-after'])}`);
    });

    test('500 is 502 llm_unavailable; 401 is 502 llm_rejected', async () => {
      reply = { status: 500 };
      const failed = await ask(ctx().app);
      assert.equal(failed.statusCode, 502, failed.body);
      assert.equal(failed.json().code, 'llm_unavailable');
      reply = { status: 401 };
      const refused = await ask(ctx().app);
      assert.equal(refused.statusCode, 502, refused.body);
      assert.equal(refused.json().code, 'llm_rejected');
      assert.equal(refused.headers['retry-after'], undefined);
    });
  },
  { ...common, OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: `${openai.origin}/v1`, LLM_PROVIDER: 'openai' },
);

describeEachDatabase(
  'provider statuses through the Anthropic SDK',
  (ctx) => {
    test('429 is 429 llm_rate_limited with the provider’s Retry-After', async () => {
      reply = { status: 429, headers: { 'retry-after': '4' } };
      const res = await ask(ctx().app);
      assert.equal(res.statusCode, 429, res.body);
      assert.equal(res.json().code, 'llm_rate_limited');
      assert.equal(res.headers['retry-after'], '4');
    });

    test('529 (overloaded) and 503 are 503 llm_overloaded with the provider’s Retry-After', async () => {
      for (const status of [529, 503]) {
        reply = { status, headers: { 'retry-after': '5' } };
        const res = await ask(ctx().app);
        assert.equal(res.statusCode, 503, res.body);
        assert.equal(res.json().code, 'llm_overloaded');
        assert.equal(res.headers['retry-after'], '5');
      }
    });
  },
  { ...common, ANTHROPIC_API_KEY: 'sk-ant-test', ANTHROPIC_BASE_URL: anthropic.origin, LLM_PROVIDER: 'anthropic', LLM_MODEL: 'claude-test' },
);
