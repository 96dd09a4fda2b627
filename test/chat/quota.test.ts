import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, beforeEach, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { App } from '../../src/app.js';
import { TokenQuota, type Reservation } from '../../src/chat/quota.js';
import { openDatabase, queryRows, sql, type AppDatabase } from '../../src/db/client.js';
import { newId } from '../../src/db/ids.js';
import { asSystem } from '../../src/db/scope.js';
import { AppError } from '../../src/http/errors.js';
import { describeEachDatabase } from '../helpers/app.js';
import { testConfig } from '../helpers/config.js';
import { createTestDatabase } from '../helpers/databases.js';
import { bearer, registerUser, uniqueEmail, type TestUser } from '../helpers/factory.js';
import { fakeLlmEnv, fakeServer, json, openaiCompletion, slowOpenaiStream, within, type Received } from '../helpers/fake-llm.js';
import { hangUpMidStream } from '../helpers/stream-hang-up.js';

/*
 * LLM_DAILY_TOKEN_LIMIT under concurrency. The fake model spends everything it is allowed:
 * its answer is as long as `max_tokens`, and it counts the prompt as a tokenizer would (about
 * four characters a token, nothing for roles), so a request that went through cost exactly what
 * the fake reports. Those reports are what the tests add up.
 */

const LIMIT = 1_000;
const MAX_OUTPUT = 100;

interface Served {
  question: string;
  usage: { prompt_tokens: number; completion_tokens: number };
}

/** What the fake does next; tests set it. */
let mode: 'answer' | 'fail' | 'slow-stream' = 'answer';
/** While set, answers wait for it: a burst of requests is all in flight before any is answered. */
let gate: Promise<void> | null = null;
const served: Served[] = [];
const arrivals: Array<() => void> = [];

const text = (content: unknown): string => (typeof content === 'string' ? content : JSON.stringify(content));

function promptTokens(body: Received['body']): number {
  return (body.messages ?? []).reduce((sum, m) => sum + Math.ceil(text(m.content).length / 4), 0);
}

function lastQuestion(body: Received['body']): string {
  return text(body.messages?.at(-1)?.content ?? '');
}

function answer(res: ServerResponse, body: Received['body']) {
  const usage = { prompt_tokens: promptTokens(body), completion_tokens: body.max_tokens ?? 4096 };
  served.push({ question: lastQuestion(body), usage });
  json(res, 200, openaiCompletion('word '.repeat(usage.completion_tokens).trim(), usage, 'length'));
}

const openai = await fakeServer(async (req, res) => {
  for (const arrived of arrivals) arrived();
  if (gate) await gate;
  switch (mode) {
    case 'answer':
      return answer(res, req.body);
    case 'fail':
      return json(res, 400, { error: { message: 'this model does not exist', type: 'invalid_request_error' } });
    case 'slow-stream':
      return slowOpenaiStream(res, 200, 20);
  }
});

after(() => openai.close());

beforeEach(() => {
  mode = 'answer';
  gate = null;
});

const LLM_ENV = {
  ...fakeLlmEnv(openai),
  LLM_MAX_RETRIES: '0',
  LLM_TIMEOUT_MS: '10000',
  LLM_MAX_OUTPUT_TOKENS: String(MAX_OUTPUT),
  LLM_DAILY_TOKEN_LIMIT: String(LIMIT),
  WORKER_CONCURRENCY: '4',
};

/** Answers held until the returned function is called. */
function holdAnswers(): () => void {
  let open!: () => void;
  gate = new Promise<void>((resolve) => (open = resolve));
  return open;
}

/** Resolves once `done()` is true, re-checked whenever the fake receives a request or `poke` is called. */
function until(done: () => boolean): { reached: Promise<void>; poke: () => void } {
  let resolve!: () => void;
  const reached = new Promise<void>((r) => (resolve = r));
  const poke = () => {
    if (done()) resolve();
  };
  arrivals.push(poke);
  void reached.then(() => arrivals.splice(arrivals.indexOf(poke), 1));
  poke();
  return { reached, poke };
}

/** Tokens the fake reported for the calls whose question carries `tag`. */
function spentBy(tag: string): number {
  return served
    .filter((s) => s.question.includes(tag))
    .reduce((sum, s) => sum + s.usage.prompt_tokens + s.usage.completion_tokens, 0);
}

interface LedgerRow {
  input_tokens: number;
  output_tokens: number;
  pending: boolean;
}

function ledger(db: AppDatabase, user: TestUser): Promise<LedgerRow[]> {
  return asSystem(db, 'test: the user’s usage rows', (tx) =>
    queryRows<LedgerRow>(tx, sql`select input_tokens, output_tokens, pending from llm_usage where user_id = ${user.userId} order by id`),
  );
}

function ask(app: App, user: TestUser, message: string, url = '/api/v1/chat/completion') {
  return app.inject({ method: 'POST', url, headers: bearer(user.accessToken), payload: { message } });
}

/** Polls the job until it settles (the inline queue has no event to wait on from here). */
async function settledJob(app: App, user: TestUser, id: string): Promise<{ status: string; error: string | null; error_code: string | null }> {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    const job = (await app.inject({ method: 'GET', url: `/api/v1/jobs/${id}`, headers: bearer(user.accessToken) })).json();
    if (job.status === 'completed' || job.status === 'failed') return job;
    await sleep(25);
  }
  throw new Error(`job ${id} did not settle`);
}

describeEachDatabase(
  'the daily token limit under concurrency',
  (ctx) => {
    test('ten parallel requests never spend more than LLM_DAILY_TOKEN_LIMIT; the rest get 429', async () => {
      const { app, database } = ctx();
      const user = await registerUser(app);
      const tag = `burst-${user.userId}`;
      const release = holdAnswers();
      let refused = 0;
      const arrivedBefore = served.length;
      const arrived = () => openai.requests.filter((r) => lastQuestion(r.body).includes(tag)).length;
      const all = until(() => arrived() + refused === 10);
      const responses = Array.from({ length: 10 }, (_, i) =>
        ask(app, user, `${tag} question ${i}: what is in the budget?`).then((res) => {
          if (res.statusCode === 429) refused += 1;
          all.poke();
          return res;
        }),
      );
      // Every request is either at the model or refused before any answer is given.
      await within(all.reached, 30_000, 'all ten requests to reach the model or be refused');
      release();
      const results = await Promise.all(responses);
      assert.equal(served.length - arrivedBefore, arrived());

      const spent = spentBy(tag);
      const ok = results.filter((r) => r.statusCode === 200);
      const limited = results.filter((r) => r.statusCode === 429);
      assert.equal(ok.length + limited.length, 10, results.map((r) => `${r.statusCode} ${r.body}`).join('\n'));
      assert.ok(spent <= LIMIT, `spent ${spent} of ${LIMIT} tokens`);
      assert.ok(limited.length > 0, 'some requests are refused');
      assert.ok(ok.length >= 5, `only ${ok.length} went through: reservations are too greedy`);
      for (const res of limited) {
        assert.equal(res.json().code, 'llm_quota_exceeded');
        const retryAfter = Number(res.headers['retry-after']);
        assert.ok(retryAfter > 0 && retryAfter <= 86_400, String(retryAfter));
      }
      // What is recorded is what the model reported, every reservation settled.
      const rows = await ledger(database.db, user);
      assert.equal(rows.length, ok.length);
      assert.ok(rows.every((r) => !r.pending));
      assert.equal(rows.reduce((sum, r) => sum + r.input_tokens + r.output_tokens, 0), spent);
      // Each answer reports the usage it was charged.
      assert.equal(ok.reduce((sum, r) => sum + r.json().usage.input_tokens + r.json().usage.output_tokens, 0), spent);
    });

    test('the last request of the day gets a shorter answer instead of overrunning the limit', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const tag = `tail-${user.userId}`;
      const asked: number[] = [];
      for (let i = 0; ; i++) {
        const res = await ask(app, user, `${tag} ${i}`);
        if (res.statusCode === 429) break;
        assert.equal(res.statusCode, 200, res.body);
        asked.push(openai.requests.at(-1)!.body.max_tokens!);
      }
      assert.ok(asked.slice(0, -1).every((n) => n === MAX_OUTPUT), asked.join());
      assert.ok(asked.at(-1)! < MAX_OUTPUT, `the last answer was allowed ${asked.at(-1)} tokens`);
      assert.ok(spentBy(tag) <= LIMIT, String(spentBy(tag)));
      const other = await registerUser(app);
      assert.equal((await ask(app, other, `${tag} someone else`)).statusCode, 200, 'the limit is per user');
    });

    test('a failed provider call gives its reservation back', async () => {
      const { app, database } = ctx();
      const user = await registerUser(app);
      mode = 'fail';
      const failed = await ask(app, user, 'Will this fail?');
      assert.equal(failed.statusCode, 502, failed.body);
      assert.deepEqual(await ledger(database.db, user), [], 'nothing reserved or charged');
      // The whole allowance is still there: a full-size answer, as many times as before.
      mode = 'answer';
      const tag = `after-failure-${user.userId}`;
      let answered = 0;
      for (let i = 0; (await ask(app, user, `${tag} ${i}`)).statusCode === 200; i++) answered += 1;
      assert.ok(answered >= 7, `${answered} answers after a failure`);
      assert.ok(spentBy(tag) <= LIMIT);
    });

    test('a client that disconnects mid-stream is charged an estimate, never left holding the reservation', async () => {
      const { app, database } = ctx();
      const user = await registerUser(app);
      mode = 'slow-stream';
      await hangUpMidStream(app, user, openai, { firstBytes: 10_000, aborted: 5_000 });
      let rows: LedgerRow[] = [];
      for (const deadline = Date.now() + 15_000; Date.now() < deadline; ) {
        rows = await ledger(database.db, user);
        if (rows.length === 1 && !rows[0]!.pending) break;
        await sleep(25);
      }
      assert.equal(rows.length, 1, JSON.stringify(rows));
      assert.equal(rows[0]!.pending, false);
      assert.ok(rows[0]!.input_tokens > 0, 'the prompt was read by the model');
      assert.ok(rows[0]!.output_tokens < MAX_OUTPUT, 'charged for what was streamed, not the whole reservation');
    });

    test('async completions hold the limit too: jobs that do not fit fail with llm_quota_exceeded', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const tag = `async-${user.userId}`;
      const release = holdAnswers();
      const accepted = await Promise.all(
        Array.from({ length: 10 }, (_, i) => ask(app, user, `${tag} ${i}`, '/api/v1/chat/completion/async')),
      );
      assert.ok(accepted.every((r) => r.statusCode === 202), accepted.map((r) => r.body).join('\n'));
      release();
      const jobs = await Promise.all(accepted.map((r) => settledJob(app, user, r.json().job_id)));
      const failed = jobs.filter((j) => j.status === 'failed');
      assert.ok(spentBy(tag) <= LIMIT, `spent ${spentBy(tag)} of ${LIMIT}`);
      assert.ok(failed.length > 0);
      assert.ok(failed.every((j) => j.error_code === 'llm_quota_exceeded'), JSON.stringify(failed));
      // Spent for today: the async route refuses up front.
      const refused = await ask(app, user, `${tag} more`, '/api/v1/chat/completion/async');
      assert.equal(refused.statusCode, 429, refused.body);
    });
  },
  LLM_ENV,
  { startQueue: true },
);

test('reservations through two connection pools, as from two processes, never overbook', async () => {
  const testDb = await createTestDatabase();
  const second = await openDatabase({ url: testDb.url, poolSize: 5 });
  try {
    const userId = newId();
    await asSystem(testDb.database.db, 'test: a user to reserve for', (tx) =>
      tx.execute(sql`insert into users (id, email) values (${userId}, ${uniqueEmail('quota')})`),
    );
    const { llm } = testConfig({ LLM_DAILY_TOKEN_LIMIT: String(LIMIT), LLM_MAX_OUTPUT_TOKENS: String(MAX_OUTPUT) });
    const quotas = [new TokenQuota(testDb.database.db, llm), new TokenQuota(second.db, llm)];
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        quotas[i % 2]!.reserve({ userId, purpose: 'chat', provider: 'openai', model: 'm', promptTokens: 50 }),
      ),
    );
    const granted = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    const refusals = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
    const reserved = (rs: Reservation[]) => rs.reduce((sum, r) => sum + r.promptTokens + r.maxOutputTokens, 0);
    // Six full reservations of 150, a seventh cut to the 50 left, then nothing.
    assert.equal(reserved(granted), LIMIT);
    assert.deepEqual(granted.map((r) => r.maxOutputTokens).sort((a, b) => a - b), [50, 100, 100, 100, 100, 100, 100]);
    assert.equal(refusals.length, 13);
    assert.ok(refusals.every((e) => e instanceof AppError && e.code === 'llm_quota_exceeded'), String(refusals[0]));
    const [row] = await asSystem(testDb.database.db, 'test: what is reserved', (tx) =>
      queryRows<{ tokens: string; pending: string }>(
        tx,
        sql`select sum(input_tokens + output_tokens) as tokens, count(*) filter (where pending) as pending from llm_usage where user_id = ${userId}`,
      ),
    );
    assert.deepEqual(row, { tokens: String(LIMIT), pending: '7' });

    // Settling gives back what was not used; abandoning a failed call gives back all of it.
    await granted[0]!.settle({ inputTokens: 40, outputTokens: 10 }, 'm');
    await granted[1]!.abandon({ interrupted: false, received: null });
    const again = await quotas[1]!.reserve({ userId, purpose: 'chat', provider: 'openai', model: 'm', promptTokens: 50 });
    assert.equal(again.maxOutputTokens, MAX_OUTPUT, 'room for a full reservation again');
  } finally {
    await second.close();
    await testDb.drop();
  }
});
