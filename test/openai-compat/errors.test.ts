/**
 * /v1 answers with the status of the error code, in OpenAI's error shape: a speech API's 500 is a
 * 502, its 429 and 503 stay 429 and 503 with Retry-After, a job that runs too long is a 504, and an
 * unknown /v1 route is an OpenAI-shaped 404.
 */
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { describeEachDatabase, type TestApp } from '../helpers/app.js';
import { shortClip } from '../helpers/audio.js';
import { registerUser } from '../helpers/factory.js';
import { fakeServer, json, type FakeServer } from '../helpers/fake-llm.js';

/** What the fake speech API answers next; tests set it. */
let answer: { status: number; headers?: Record<string, string> } | 'hang' = { status: 500 };

const speech: FakeServer = await fakeServer((_req, res) => {
  if (answer === 'hang') return; // holds the request until the job gives up on it
  json(res, answer.status, { error: { message: `speech API says ${answer.status}`, type: 'server_error', param: null, code: null } }, answer.headers);
});
after(() => speech.close());

const env = {
  STT_BASE_URL: `${speech.origin}/v1`,
  STT_API_KEY: 'sk-speech',
  // One attempt: the job fails with the first answer instead of retrying it.
  JOB_ATTEMPTS: '1',
};

async function sdkClient(ctx: TestApp): Promise<OpenAI> {
  const { app } = ctx;
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const user = await registerUser(app);
  return new OpenAI({ apiKey: user.accessToken, baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0, timeout: 120_000 });
}

/** Transcribes with the `openai` engine (the fake speech API) and returns the SDK's APIError. */
async function failure(client: OpenAI): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await client.audio.transcriptions.create({ file: createReadStream(shortClip().wavPath), model: 'openai' });
  } catch (error) {
    assert.ok(error instanceof OpenAI.APIError, String(error));
    return error;
  }
  assert.fail('the transcription succeeded');
}

function openAIBody(error: InstanceType<typeof OpenAI.APIError>): { message: string; type: string; param: unknown; code: string } {
  return error.error as { message: string; type: string; param: unknown; code: string };
}

describeEachDatabase(
  'OpenAI-compatible errors: statuses from the error list',
  (ctx) => {
    let client: OpenAI;
    before(async () => {
      client = await sdkClient(ctx());
    });

    test('a speech API 500 is a 502 provider_unavailable, not a 500', async () => {
      answer = { status: 500 };
      const error = await failure(client);
      assert.equal(error.status, 502);
      assert.equal(openAIBody(error).code, 'provider_unavailable');
      assert.equal(openAIBody(error).type, 'server_error');
      assert.match(openAIBody(error).message, /speech API says 500/);
    });

    test('a speech API 429 is a 429 provider_rate_limited with Retry-After', async () => {
      answer = { status: 429, headers: { 'retry-after': '7' } };
      const error = await failure(client);
      assert.ok(error instanceof OpenAI.RateLimitError, String(error));
      assert.equal(openAIBody(error).code, 'provider_rate_limited');
      assert.equal(openAIBody(error).type, 'rate_limit_error');
      assert.ok(Number(error.headers?.get('retry-after')) > 0, `retry-after: ${error.headers?.get('retry-after')}`);
    });

    test('a speech API 503 is a 503 provider_overloaded with Retry-After', async () => {
      answer = { status: 503 };
      const error = await failure(client);
      assert.equal(error.status, 503);
      assert.equal(openAIBody(error).code, 'provider_overloaded');
      assert.ok(Number(error.headers?.get('retry-after')) > 0, `retry-after: ${error.headers?.get('retry-after')}`);
    });

    test('a speech API 400 stays a refusal: 502 provider_rejected, not retried', async () => {
      answer = { status: 400 };
      const error = await failure(client);
      assert.equal(error.status, 502);
      assert.equal(openAIBody(error).code, 'provider_rejected');
    });

    test('an unknown /v1 route is a 404 in OpenAI’s error shape, with or without a key', async () => {
      const { app } = ctx();
      for (const headers of [{}, { authorization: `Bearer ${client.apiKey}` }]) {
        const res = await app.inject({ method: 'POST', url: '/v1/chat/completions?x=1', headers, payload: { model: 'gpt-4o' } });
        assert.equal(res.statusCode, 404, res.body);
        assert.match(String(res.headers['content-type']), /^application\/json/);
        assert.deepEqual(res.json(), {
          error: { message: 'No route POST /v1/chat/completions', type: 'not_found_error', param: null, code: 'route_not_found' },
        });
      }
      // Through the SDK: its own NotFoundError.
      await assert.rejects(client.embeddings.create({ model: 'x', input: 'y' }), (error: unknown) => error instanceof OpenAI.NotFoundError);
      // Outside /v1, unknown routes stay problem+json.
      const outside = await app.inject({ method: 'GET', url: '/nowhere' });
      assert.equal(outside.statusCode, 404);
      assert.equal(outside.json().code, 'route_not_found');
      assert.match(String(outside.headers['content-type']), /^application\/problem\+json/);
    });
  },
  env,
  { startQueue: true },
);

describeEachDatabase(
  'OpenAI-compatible errors: a job that runs too long',
  (ctx) => {
    test('job_timeout is a 504 (it used to be a 400)', async () => {
      const client = await sdkClient(ctx());
      answer = 'hang';
      const error = await failure(client);
      assert.equal(error.status, 504);
      assert.equal(openAIBody(error).code, 'job_timeout');
      assert.equal(openAIBody(error).type, 'server_error');
    });
  },
  { ...env, JOB_TIMEOUT_SECONDS: '2' },
  { startQueue: true },
);
