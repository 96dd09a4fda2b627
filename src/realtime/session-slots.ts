import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { JobLog } from '../jobs/runner.js';

/**
 * REALTIME_MAX_SESSIONS_PER_USER: the live sockets one user may hold at once. `acquire` answers
 * null when the user is at the limit, else the function that gives the slot back (idempotent).
 */
export interface SessionSlots {
  acquire(userId: string): Promise<(() => Promise<void>) | null>;
}

export interface ClosableSessionSlots extends SessionSlots {
  /** Stops refreshing and drops the connection; held slots are not given back (they expire). */
  close(): Promise<void>;
}

export interface SessionSlotsOptions {
  maxPerUser: number;
  /** Shared by every API process when set; else each process counts alone. */
  redisUrl: string | null;
  redisPrefix: string;
  log: JobLog;
  /** How long a slot outlives the last refresh of its process (refreshed every third of it). */
  ttlMs?: number;
}

const DEFAULT_TTL_MS = 30_000;
/** A first acquire may come before the connection is up; it waits this long before counting locally. */
const READY_WAIT_MS = 2_000;

/**
 * Slots in Redis, shared by every API process, else in this process's memory. A Redis outage
 * falls back to counting in memory (the limit then holds per process) rather than refusing or
 * failing live transcription.
 */
export function createSessionSlots(options: SessionSlotsOptions): ClosableSessionSlots {
  const memory = new MemorySlots(options.maxPerUser);
  if (!options.redisUrl) return { acquire: (userId) => memory.acquire(userId), close: async () => undefined };
  const redisSlots = new RedisSlots(options, options.redisUrl, memory);
  return { acquire: (userId) => redisSlots.acquire(userId), close: () => redisSlots.close() };
}

class MemorySlots implements SessionSlots {
  private readonly held = new Map<string, Set<string>>();
  constructor(private readonly max: number) {}

  async acquire(userId: string): Promise<(() => Promise<void>) | null> {
    const mine = this.held.get(userId) ?? new Set<string>();
    if (mine.size >= this.max) return null;
    const slot = randomUUID();
    mine.add(slot);
    this.held.set(userId, mine);
    return async () => {
      mine.delete(slot);
      if (mine.size === 0 && this.held.get(userId) === mine) this.held.delete(userId);
    };
  }
}

/*
 * One sorted set per user: member = slot id, score = the Redis time (ms) it expires. Expired
 * members are dropped before counting, so a killed process's slots free themselves; the script
 * makes the count and the add one step across processes. The key expires with its last slot.
 */
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;

const REFRESH = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`;

class RedisSlots implements SessionSlots {
  private readonly redis: Promise<Redis>;
  private readonly ttlMs: number;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly options: SessionSlotsOptions,
    url: string,
    private readonly memory: MemorySlots,
  ) {
    this.ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    // ioredis is loaded only when Redis is configured.
    this.redis = import('../jobs/redis.js').then(({ connectRedis }) =>
      connectRedis(url, 'realtime-slots', options.log, { failFast: true }),
    );
  }

  private key(userId: string): string {
    return `${this.options.redisPrefix}:realtime:slots:${userId}`;
  }

  async acquire(userId: string): Promise<(() => Promise<void>) | null> {
    const redis = await this.redis;
    const slot = randomUUID();
    const key = this.key(userId);
    try {
      await ready(redis);
      const got = await redis.eval(ACQUIRE, 1, key, this.options.maxPerUser, slot, this.ttlMs);
      if (Number(got) !== 1) return null;
    } catch (error) {
      this.options.log.warn({ err: error }, 'realtime session slots: Redis unavailable; counting in this process only');
      return this.memory.acquire(userId);
    }
    // A refresh that fails (Redis briefly down) is tried again at the next tick; the slot lapses
    // only if no refresh gets through for a whole TTL.
    const timer = setInterval(() => {
      redis.eval(REFRESH, 1, key, slot, this.ttlMs).catch(() => undefined);
    }, Math.max(10, Math.floor(this.ttlMs / 3)));
    timer.unref();
    this.timers.add(timer);
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      clearInterval(timer);
      this.timers.delete(timer);
      // Unreachable Redis: the slot expires by itself within the TTL.
      await redis.zrem(key, slot).catch(() => undefined);
    };
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers.clear();
    (await this.redis).disconnect();
  }
}

/** Waits for a connection still being made (the first use after start), briefly. */
async function ready(redis: Redis): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`Redis not ready (${redis.status})`));
    }, READY_WAIT_MS);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}
