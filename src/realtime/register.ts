/** Wires GET /v1/realtime into the app: its session slots, auth, engines and storing. */
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import type { Runtime } from '../runtime.js';
import { realtimeAuthDeps } from './auth.js';
import { realtimeRoutes } from './routes.js';
import { createSessionSlots } from './session-slots.js';
import { storeRealtimeSession } from './store-session.js';

export async function registerRealtime(app: FastifyInstance, config: Config, runtime: Runtime): Promise<void> {
  const { services } = runtime;
  const slots = createSessionSlots({
    maxPerUser: config.realtime.maxSessionsPerUser,
    redisUrl: config.redisUrl,
    redisPrefix: config.redisPrefix,
    log: app.log,
  });
  app.addHook('onClose', () => slots.close());
  await app.register(realtimeRoutes, {
    prefix: '/v1',
    authDeps: realtimeAuthDeps(services.auth),
    slots,
    engines: runtime.engines,
    stt: config.stt,
    limits: config.realtime,
    // Half the shutdown window, as running jobs get: the rest is for the database and the exit.
    drainMs: config.shutdownTimeoutMs / 2,
    metrics: runtime.metrics,
    store: (input) => storeRealtimeSession({ recordings: services.recordings, transcriptions: services.transcriptions }, input),
  });
}
