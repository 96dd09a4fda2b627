import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { deletePrefix } from '../../src/jobs/redis.js';
import { IN_CI } from './databases.js';

/** The Redis server tests use; every test run works under its own key prefix and removes it. */
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function probeRedis(): Promise<string | null> {
  const client = new Redis(TEST_REDIS_URL, {
    lazyConnect: true,
    connectTimeout: 3_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    return null;
  } catch (error) {
    return error instanceof Error ? error.message || error.name : String(error);
  } finally {
    client.disconnect();
  }
}

/** Why Redis cannot be used, or null when it can. */
export const redisProblem = await probeRedis();

/** Like PostgreSQL's: outside CI a missing Redis skips; in CI it must fail, never turn the run green. */
export function redisSkipReason(): string | false {
  return redisProblem && !IN_CI ? `Redis unreachable: ${redisProblem}` : false;
}

export function assertRedisAvailable(): void {
  if (redisProblem) throw new Error(`Redis is required (CI is set) but unreachable: ${redisProblem}`);
}

export interface TestQueues {
  /** `test-<uuid>`: every key these queues make starts with it. */
  prefix: string;
  create(name: string): Queue;
  /** Obliterates and closes every queue made here, then removes every key left under the prefix (whoever made it). */
  cleanup(): Promise<void>;
}

export function testQueues(): TestQueues {
  const prefix = `test-${randomUUID()}`;
  const url = new URL(TEST_REDIS_URL);
  const connection = {
    host: url.hostname,
    port: Number(url.port || 6379),
    db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0,
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
  };
  const queues: Queue[] = [];
  return {
    prefix,
    create(name) {
      const queue = new Queue(name, { connection, prefix });
      queues.push(queue);
      return queue;
    },
    async cleanup() {
      for (const queue of queues.splice(0)) {
        await queue.obliterate({ force: true });
        await queue.close();
      }
      // Keys may also come from queues made elsewhere with this prefix; none exist without Redis.
      if (redisProblem) return;
      const client = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1, retryStrategy: () => null });
      client.on('error', () => undefined);
      try {
        await deletePrefix(client, prefix);
      } finally {
        client.disconnect();
      }
    },
  };
}
