import { Redis, type RedisOptions } from 'ioredis';
import type { JobLog } from './runner.js';

const ERROR_LOG_EVERY_MS = 30_000;

/**
 * A Redis connection that reconnects forever (so an outage heals without a restart) and logs
 * its errors once in a while instead of once per retry. `failFast` connections refuse commands
 * while disconnected rather than queueing them, so callers can answer 503 at once.
 */
export function connectRedis(url: string, name: string, log: JobLog, options: { failFast: boolean }): Redis {
  const settings: RedisOptions = {
    connectionName: `transcribo:${name}`,
    // BullMQ's blocking commands must wait out an outage, not give up after N retries.
    maxRetriesPerRequest: options.failFast ? 1 : null,
    enableOfflineQueue: !options.failFast,
    connectTimeout: 5_000,
    retryStrategy: (times) => Math.min(200 * times, 2_000),
  };
  const redis = new Redis(url, settings);
  let lastLogged = 0;
  redis.on('error', (error: Error) => {
    if (Date.now() - lastLogged < ERROR_LOG_EVERY_MS) return;
    lastLogged = Date.now();
    log.warn({ err: error, connection: name }, 'Redis connection error; reconnecting');
  });
  return redis;
}

/** True when commands sent now would reach Redis. */
export function isRedisReady(redis: Redis): boolean {
  return redis.status === 'ready';
}

/** Removes every key under `prefix:` (a deployment's or a test's queue and counters). */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}
