/**
 * What /openapi.json says beyond each route's own schema (src/http/openapi.ts): the errors every
 * route can answer with, defaults that make a field optional, the real content types of the file
 * and event-stream routes, and the admin routes documented or left out on purpose.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Type } from 'typebox';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { redisSkipReason, TEST_REDIS_URL, testQueues } from '../helpers/redis.js';
import { operationsOf, ResponseChecker, type Document, type Operation, type Schema } from './spec.js';

async function documentOf(app: TestApp['app']): Promise<Document> {
  const res = await app.inject({ method: 'GET', url: '/openapi.json' });
  assert.equal(res.statusCode, 200);
  return res.json<Document>();
}

function operation(ops: Operation[], key: string): Operation {
  const found = ops.find((op) => op.key === key);
  assert.ok(found, `${key} is documented`);
  return found;
}

describe('the OpenAPI document [postgres]', () => {
  let current: TestApp;
  let doc: Document;
  let ops: Operation[];
  before(async () => {
    current = await startTestApp('postgres', { RATE_LIMIT_MAX: '2' }, {
      beforeReady: (app) => {
        const schema = { tags: ['test'], response: { 200: Type.Object({ ok: Type.Boolean() }) } };
        app.get('/test/limited', { schema }, async () => ({ ok: true }));
        app.get('/test/unlimited', { schema, config: { rateLimit: false } }, async () => ({ ok: true }));
      },
    });
    doc = await documentOf(current.app);
    ops = operationsOf(doc);
  });
  after(() => current?.close());

  test('every operation documents 500, and 429 with Retry-After unless it really is never limited', async () => {
    const unlimited: string[] = [];
    for (const op of ops) {
      assert.ok(op.responses['500'], `${op.key} documents 500`);
      const responses = doc.paths[op.path]![op.method.toLowerCase()]!.responses as Record<string, { headers?: Record<string, unknown> }>;
      if (responses['429']) assert.ok(responses['429'].headers?.['retry-after'], `${op.key}: 429 names Retry-After`);
      else unlimited.push(op.key);
    }
    assert.ok(unlimited.includes('GET /test/unlimited'), 'a route with rateLimit: false has no 429');
    assert.ok(!unlimited.includes('GET /test/limited'));
    // RATE_LIMIT_MAX is 2 here: four calls to an operation without a documented 429 show it is not limited.
    for (const key of unlimited) {
      const op = operation(ops, key);
      assert.ok(op.method === 'GET' && !op.path.includes('{'), `${key} has no 429 and cannot be checked here`);
      for (let i = 0; i < 4; i++) assert.notEqual((await current.app.inject({ url: op.path })).statusCode, 429, key);
    }
  });

  test('a 429 really is what the document says, problem+json with Retry-After', async () => {
    const checker = new ResponseChecker();
    const op = operation(ops, 'GET /test/limited');
    let res = await current.app.inject({ url: '/test/limited' });
    for (let i = 0; i < 5 && res.statusCode !== 429; i++) res = await current.app.inject({ url: '/test/limited' });
    assert.equal(res.statusCode, 429, res.body);
    assert.ok(res.headers['retry-after'], 'Retry-After is sent');
    assert.equal(checker.problem(op, res), null);
  });

  test('errors the framework raises are documented: bad bodies on body routes, bad ids on id routes, 401 and 503 on authenticated ones', () => {
    const upload = operation(ops, 'POST /api/v1/audio/upload');
    for (const status of ['400', '401', '413', '415', '422', '503']) assert.ok(upload.responses[status], `upload documents ${status}`);
    const byId = operation(ops, 'GET /api/v1/audio/{id}');
    for (const status of ['400', '404', '414', '422']) assert.ok(byId.responses[status], `GET by id documents ${status}`);
    const openAI = operation(ops, 'POST /v1/audio/transcriptions');
    assert.equal(openAI.responses['422'], undefined, 'OpenAI-style routes answer invalid requests with 400');
    assert.ok(openAI.responses['429']?.content?.['application/json'], "the /v1 429 is in OpenAI's shape");
  });

  test('query parameters and body fields with a default are not required', () => {
    for (const op of ops) {
      for (const p of op.parameters.filter((x) => x.in === 'query' && x.schema.default !== undefined)) {
        assert.equal(p.required, false, `${op.key}: query ${p.name} has a default`);
      }
      for (const [type, schema] of Object.entries(op.body?.media ?? {})) {
        for (const branch of [schema, ...((schema.anyOf as Schema[] | undefined) ?? [])]) {
          const properties = (branch.properties ?? {}) as Record<string, Schema>;
          for (const name of (branch.required as string[] | undefined) ?? []) {
            assert.equal(properties[name]?.default, undefined, `${op.key} ${type}: ${name} has a default yet is required`);
          }
        }
      }
    }
    assert.equal(operation(ops, 'GET /api/v1/audio').parameters.find((p) => p.name === 'limit')?.required, false);
    assert.equal(operation(ops, 'POST /api/v1/audio/{id}/transcribe').body?.required, false, 'transcribe takes no body');
  });

  test('the event streams are text/event-stream, the audio file its audio type', () => {
    const events = operation(ops, 'GET /api/v1/jobs/{id}/events').responses['200']?.content ?? {};
    assert.deepEqual(Object.keys(events), ['text/event-stream']);
    const completion = operation(ops, 'POST /api/v1/chat/completion').responses['200']?.content ?? {};
    assert.equal(completion['text/event-stream']?.schema?.type, 'string');
    for (const status of ['200', '206']) {
      const file = operation(ops, 'GET /api/v1/audio/{id}/file').responses[status]?.content ?? {};
      assert.ok(file['audio/*'], `the file's ${status} is documented as audio/*`);
    }
  });

  test('one Problem schema, referenced; every reference resolves', () => {
    assert.ok(doc.components?.schemas?.Problem);
    const text = JSON.stringify(doc);
    assert.ok((text.match(/"#\/components\/schemas\/Problem"/g) ?? []).length > ops.length);
    for (const ref of text.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)) {
      assert.ok(doc.components?.schemas?.[ref[1]!], `${ref[1]} exists`);
    }
  });

  test('without BullMQ there are no admin routes', () => {
    assert.equal(Object.keys(doc.paths).filter((p) => p.startsWith('/admin')).length, 0);
  });
});

describe('the OpenAPI document with REDIS_URL: the admin routes [postgres]', { skip: redisSkipReason() }, () => {
  const redis = testQueues();
  let current: TestApp;
  let doc: Document & { tags?: { name: string; description?: string }[] };
  before(async () => {
    current = await startTestApp('postgres', { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: redis.prefix });
    doc = await documentOf(current.app);
  });
  after(async () => {
    await current?.close();
    await redis.cleanup();
  });

  test('the session routes are documented; the dashboard is left out, and the admin tag says so', async () => {
    const admin = Object.keys(doc.paths).filter((p) => p.startsWith('/admin'));
    assert.deepEqual(admin, ['/admin/session']);
    const tag = doc.tags?.find((t) => t.name === 'admin');
    assert.match(tag?.description ?? '', /\/admin\/queues\/.*left out of this document on purpose/);
    // The dashboard is there all the same, for admins only.
    const res = await current.app.inject({ url: '/admin/queues/' });
    assert.equal(res.statusCode, 401);
  });
});
