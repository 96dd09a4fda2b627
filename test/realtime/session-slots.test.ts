import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { deletePrefix } from '../../src/jobs/redis.js';
import { createSessionSlots, type ClosableSessionSlots } from '../../src/realtime/session-slots.js';
import { waitUntil } from '../helpers/server-process.js';
import { redisSkipReason, TEST_REDIS_URL } from '../helpers/redis.js';

const log = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

describe('session slots in memory (no REDIS_URL)', () => {
  test('a user holds at most the limit; a release frees one, twice frees nothing more; users are apart', async () => {
    const slots = createSessionSlots({ maxPerUser: 2, redisUrl: null, redisPrefix: 'unused', log });
    const first = await slots.acquire('ana');
    const second = await slots.acquire('ana');
    assert.ok(first && second);
    assert.equal(await slots.acquire('ana'), null);
    assert.ok(await slots.acquire('bob'), 'another user has slots of their own');
    await first();
    await first();
    const third = await slots.acquire('ana');
    assert.ok(third, 'the released slot is free again');
    assert.equal(await slots.acquire('ana'), null, 'a second release of the same slot freed nothing');
    await slots.close();
  });
});

describe('session slots in Redis (shared by processes)', { skip: redisSkipReason() }, () => {
  const prefixes: string[] = [];
  const opened: ClosableSessionSlots[] = [];
  const client = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);

  function processSlots(prefix: string, ttlMs = 30_000): ClosableSessionSlots {
    const slots = createSessionSlots({ maxPerUser: 2, redisUrl: TEST_REDIS_URL, redisPrefix: prefix, log, ttlMs });
    opened.push(slots);
    return slots;
  }
  function newPrefix(): string {
    const prefix = `test-${randomUUID()}`;
    prefixes.push(prefix);
    return prefix;
  }
  after(async () => {
    for (const slots of opened) await slots.close();
    for (const prefix of prefixes) await deletePrefix(client, prefix);
    client.disconnect();
  });

  test('the limit holds across two processes; a release frees a slot for either', async () => {
    const prefix = newPrefix();
    const [a, b] = [processSlots(prefix), processSlots(prefix)];
    const user = randomUUID();
    const one = await a.acquire(user);
    const two = await b.acquire(user);
    assert.ok(one && two);
    assert.equal(await a.acquire(user), null);
    assert.equal(await b.acquire(user), null);
    assert.ok(await a.acquire(randomUUID()), 'another user is not counted');
    await one();
    await one();
    assert.ok(await b.acquire(user), 'freed by the other process');
    assert.equal(await a.acquire(user), null, 'the double release freed only one slot');
  });

  test('a live session keeps its slot past the TTL; a killed process frees its slots after it', async () => {
    const prefix = newPrefix();
    const ttlMs = 600;
    const dying = processSlots(prefix, ttlMs);
    const survivor = processSlots(prefix, ttlMs);
    const user = randomUUID();
    const key = `${prefix}:realtime:slots:${user}`;
    assert.ok(await dying.acquire(user));
    const held = await survivor.acquire(user);
    assert.ok(held);
    const [, firstExpiry] = await client.zrange(key, 0, -1, 'WITHSCORES');
    // Refreshed beyond the first expiry: both slots have lived longer than one TTL.
    await waitUntil('refreshes past the first TTL', async () => {
      const scores = (await client.zrange(key, 0, -1, 'WITHSCORES')).filter((_, i) => i % 2 === 1).map(Number);
      return scores.length === 2 && scores.every((score) => score > Number(firstExpiry) + ttlMs) ? true : null;
    }, 10_000);
    assert.equal(await survivor.acquire(user), null, 'both slots still held');

    await dying.close(); // like a killed process: no release, no more refreshes
    const freed = await waitUntil('the dead process slot to expire', () => survivor.acquire(user), 10_000);
    await freed();
    await held();
    assert.equal(await client.exists(key), 0, 'nothing left behind once all are released');
  });
});
