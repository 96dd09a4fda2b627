/**
 * Schema-driven fuzzing of every operation in /openapi.json, on PostgreSQL: valid requests made
 * from each operation's schemas, and requests with one part broken (wrong types, values past
 * their bounds, NUL and other control characters, huge and deeply nested bodies, malformed ids,
 * wrong content types, user B aiming at user A's real ids). Every answer must be below 500, with
 * a documented status and content type, and a body that matches the documented schema; and B
 * never gets a 2xx for a request that names A's data.
 *
 * FUZZ_SEED (default below) fixes what is generated; FUZZ_RUNS (default 25) is the number of
 * requests per operation. To search longer, e.g.:
 *   FUZZ_RUNS=1000 FUZZ_SEED=$RANDOM node --import tsx --test test/fuzz/openapi-fuzz.test.ts
 * and to replay one operation's failure, give its FUZZ_SEED and --test-name-pattern='GET /api/v1/audio/\{id\}$'.
 */
import assert from 'node:assert/strict';
import { after, describe, test, type TestContext } from 'node:test';
import fc from 'fast-check';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { redisSkipReason, TEST_REDIS_URL, testQueues } from '../helpers/redis.js';
import { startFakes } from './fakes.js';
import { describeRequest, requestsFor, type FuzzRequest } from './requests.js';
import { operationsOf, ResponseChecker, type Document, type Operation } from './spec.js';
import { buildWorld, usersOnly, type World } from './world.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_130);
const RUNS = Number(process.env.FUZZ_RUNS ?? 25);
/** Small, so bodies around and over the limit are cheap to make. */
const MAX_FILE_SIZE = 256 * 1024;

/**
 * 5xx answers that are an operation's documented purpose rather than a failure: readiness says
 * 503 when a check is slow, as on a loaded test machine.
 */
const EXPECTED_5XX: Record<string, number[]> = { 'GET /api/v1/health/readiness': [503] };

const ORDER: Record<string, number> = { GET: 0, POST: 1, PUT: 2, PATCH: 2, DELETE: 3 };

function seedFor(key: string): number {
  let hash = SEED | 0;
  for (const char of key) hash = (Math.imul(hash, 31) + char.charCodeAt(0)) | 0;
  return hash;
}

/** Whether the path or body names one of A's ids (a query's cursor may: it only says where a page starts). */
function namesOwnersData(request: FuzzRequest, world: World): boolean {
  const where = `${request.url.split('?')[0]} ${request.payload?.toString('latin1') ?? ''}`;
  return Object.values(world.ids).some((ids) => ids.some((id) => where.includes(id)));
}

interface Outcome {
  statuses: Map<number, number>;
}

async function fuzzOperation(t: TestContext, app: TestApp['app'], op: Operation, world: World, checker: ResponseChecker): Promise<void> {
  const outcome: Outcome = { statuses: new Map() };
  const arbitrary = requestsFor(op, world, MAX_FILE_SIZE).map((request) =>
    Object.assign(request, { [fc.toStringMethod]: () => describeRequest(request) }),
  );
  await fc.assert(
    fc.asyncProperty(arbitrary, async (request: FuzzRequest) => {
      const res = await app.inject({ method: request.method as 'GET', url: request.url, headers: request.headers, payload: request.payload });
      outcome.statuses.set(res.statusCode, (outcome.statuses.get(res.statusCode) ?? 0) + 1);
      const failed = res.statusCode >= 500 && !EXPECTED_5XX[op.key]?.includes(res.statusCode);
      const trespass = request.actor === 'other' && res.statusCode < 300 && namesOwnersData(request, world);
      const problem = failed
        ? `answered ${res.statusCode}`
        : trespass
          ? `user B got ${res.statusCode} for a request naming user A's data`
          : checker.problem(op, res);
      if (!problem) return;
      assert.fail(`${op.key}: ${problem}\n  ${describeRequest(request)}\n  → ${res.statusCode} ${res.body.slice(0, 600)}`);
    }),
    { seed: seedFor(op.key), numRuns: RUNS, includeErrorInReport: true },
  );
  const counts = [...outcome.statuses].sort(([a], [b]) => a - b).map(([status, n]) => `${status}×${n}`);
  t.diagnostic(counts.join(' '));
}

async function documentOf(app: TestApp['app']): Promise<Document> {
  const res = await app.inject({ method: 'GET', url: '/openapi.json' });
  assert.equal(res.statusCode, 200);
  return res.json<Document>();
}

const env = {
  MAX_FILE_SIZE: String(MAX_FILE_SIZE),
  JOB_ATTEMPTS: '1',
  WEBHOOK_TIMEOUT_MS: '500',
  // Whisper would download its model: from here, a closed port, so such jobs fail at once.
  WHISPER_MODEL_BASE_URL: 'http://127.0.0.1:9/models',
};

/**
 * Reads first and deletions last, so that deleting A's data does not starve later operations;
 * revoking A's API key last of all, since one of A's two credentials is that key.
 */
function ordered(ops: Operation[]): Operation[] {
  const rank = (op: Operation) => (ORDER[op.method] ?? 1) + (op.method === 'DELETE' && op.path.includes('/api-keys/') ? 1 : 0);
  return [...ops].sort((a, b) => rank(a) - rank(b));
}

// Built before the tests are declared, so that each operation is a test of its own
// (and --test-name-pattern can pick one).
const checker = new ResponseChecker();
const fakes = await startFakes();
const main = await startTestApp('postgres', { ...env, ...fakes.env }, { startQueue: true });
after(async () => {
  await main.close();
  await fakes.close();
});
const world = await buildWorld(main.app);
const operations = ordered(operationsOf(await documentOf(main.app)));

describe(`every operation in /openapi.json keeps its contract under fuzzing [postgres] (FUZZ_SEED=${SEED}, FUZZ_RUNS=${RUNS})`, () => {
  test('the document lists the API', () => {
    assert.ok(operations.length >= 30, `only ${operations.length} operations documented`);
  });
  // No operation is left out: the outside services they need are faked on 127.0.0.1 (fakes.ts).
  for (const op of operations) {
    test(op.key, (t) => fuzzOperation(t, main.app, op, world, checker));
  }
});

/** The admin routes exist only with BullMQ: the operations the document has only then. */
const redisSkip = redisSkipReason();
const redis = testQueues();
const withRedis = redisSkip ? null : await startTestApp('postgres', { ...env, REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: redis.prefix });
after(async () => {
  await withRedis?.close();
  await redis.cleanup();
});
const known = new Set(operations.map((op) => op.key));
const redisOnly = withRedis ? ordered(operationsOf(await documentOf(withRedis.app)).filter((op) => !known.has(op.key))) : [];
const admins = withRedis ? await usersOnly(withRedis.app) : null;

describe('the operations that exist only with REDIS_URL keep their contract under fuzzing [postgres]', { skip: redisSkip }, () => {
  test('the admin session routes are documented', () => {
    assert.ok(redisOnly.some((op) => op.path.startsWith('/admin/')), redisOnly.map((op) => op.key).join(', '));
  });
  for (const op of redisOnly) {
    test(op.key, (t) => fuzzOperation(t, withRedis!.app, op, admins!, checker));
  }
});
