import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { Config } from '../config.js';

/*
 * One request allowance per caller and minute (RATE_LIMIT_MAX). A caller is the user a verified
 * credential speaks for, or else the client address; the credential routes (register, log-in,
 * refresh) count per address with their own, tighter allowance. The key is never taken from what
 * a client merely claims: the limiter runs as a route-level onRequest hook, after requireAuth has
 * verified the credential (src/http/auth-plugin.ts), and a credential that failed leaves
 * `request.auth` empty, so a flood of bad tokens is counted against its address.
 *
 * Routes opt out with `config: { rateLimit: false }` (the health probes, the OpenAPI document).
 */

/** The bucket of an address (IPv6 by its /64, as the plugin's default). With TRUST_PROXY, the client's. */
export function addressKey(request: FastifyRequest): string {
  return `ip:${normalizeIP(request.ip)}`;
}

/** The bucket of a verified user, else of the address. */
export function callerKey(request: FastifyRequest): string {
  return request.auth ? `user:${request.auth.userId}` : addressKey(request);
}

/**
 * With Redis, counters are shared by every API process (a client cannot multiply its allowance by
 * the number of replicas). Redis down: requests pass uncounted rather than fail.
 */
async function rateLimitStore(log: FastifyBaseLogger, config: Config, onClose: (close: () => void) => void) {
  if (!config.redisUrl) return {};
  // ioredis is loaded only when Redis is configured.
  const { connectRedis } = await import('../jobs/redis.js');
  const redis = connectRedis(config.redisUrl, 'rate-limit', log, { failFast: true });
  onClose(() => redis.disconnect());
  return { redis, nameSpace: `${config.redisPrefix}:rate-limit:`, skipOnError: true };
}

/**
 * Registers the limiter on the root instance (it then applies to every route registered after).
 * `onRejected` hears of every request it answers 429 (the credential routes' tighter limit too).
 */
export async function registerRateLimit(
  app: FastifyInstance,
  config: Config,
  onRejected?: (request: FastifyRequest) => void,
): Promise<void> {
  await app.register(rateLimit, {
    global: true,
    max: config.rateLimitMax,
    timeWindow: '1 minute',
    keyGenerator: callerKey,
    ...(onRejected ? { onExceeded: onRejected } : {}),
    ...(await rateLimitStore(app.log, config, (close) => app.addHook('onClose', async () => close()))),
  });
}
