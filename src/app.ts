import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import Fastify, { type FastifyServerOptions } from 'fastify';
import cors from '@fastify/cors';
import formbody from '@fastify/formbody';
import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from './config.js';
import type { BullJobQueue } from './jobs/bullmq-queue.js';
import type { JobQueue } from './jobs/queue.js';
import type { Database } from './db/client.js';
import { authRoutes } from './auth/routes.js';
import { completionRoutes } from './chat/completion-routes.js';
import { chatRoutes } from './chat/routes.js';
import { summaryRoutes } from './chat/summary-routes.js';
import { healthRoutes } from './health/routes.js';
import { requireAuth } from './http/auth-plugin.js';
import { frameworkErrors, registerErrorHandling } from './http/error-handler.js';
import { registerNulGuard } from './http/nul-guard.js';
import { registerEventStreams } from './http/sse.js';
import { registerRateLimit } from './http/rate-limit.js';
import { registerHttpMetrics } from './metrics/http.js';
import { closeOnUnreadBody } from './http/unread-body.js';
import { swaggerOptions } from './http/openapi.js';
import { registerSecurityHeaders } from './http/security-headers.js';
import { registerConsole } from './http/console.js';
import { recordingRoutes } from './recordings/routes.js';
import { transcriptionRoutes } from './transcription/routes.js';
import { transcriptEditRoutes } from './transcription/edits/routes.js';
import { privacyRoutes } from './privacy/routes.js';
import { jobRoutes } from './jobs/routes.js';
import { searchRoutes } from './search/routes.js';
import { webhookRoutes } from './webhooks/routes.js';
import { openAICompatRoutes } from './openai-compat/routes.js';
import { clientSecretRoutes } from './realtime/client-secret-routes.js';
import { registerRealtime } from './realtime/register.js';
import { adminRoutes } from './admin/routes.js';
import { AdminService } from './admin/service.js';
import { createRuntime, type Runtime, type RuntimeOverrides } from './runtime.js';
import { VERSION } from './version.js';

export interface AppDeps {
  config: Config;
  database: Database;
  logger?: FastifyServerOptions['logger'];
  overrides?: RuntimeOverrides;
}

declare module 'fastify' {
  interface FastifyInstance {
    runtime: Runtime;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A caller's own request id is kept when it is sane, so one id follows a request across services. */
function requestId(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/** The queue as a BullJobQueue when BullMQ runs the jobs (its module is loaded only then), else null. */
async function bullQueueOf(queue: JobQueue): Promise<BullJobQueue | null> {
  if (queue.kind !== 'bullmq') return null;
  const { BullJobQueue } = await import('./jobs/bullmq-queue.js');
  return queue instanceof BullJobQueue ? queue : null;
}

/** TLS_CERT_FILE/TLS_KEY_FILE: the API port speaks HTTPS (and so WSS); read once, at build. */
function httpsOptions(tls: Config['tls']): { https: { cert: Buffer; key: Buffer } } | Record<string, never> {
  if (!tls) return {};
  return { https: { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) } };
}

export async function buildApp(deps: AppDeps) {
  const { config, database } = deps;
  const startedAt = Date.now();
  const app = Fastify({
    logger: deps.logger ?? false,
    genReqId: requestId,
    requestIdHeader: false,
    trustProxy: config.trustProxy,
    routerOptions: { ignoreTrailingSlash: true },
    frameworkErrors,
    ajv: { customOptions: { coerceTypes: 'array', useDefaults: true, removeAdditional: true } },
    // Hidden from the types (`object`): with `https` Fastify's overloads make every plugin's server
    // type https.Server, while nothing here depends on which of the two answers.
    ...(httpsOptions(config.tls) as object),
  }).withTypeProvider<TypeBoxTypeProvider>();

  const runtime = await createRuntime(config, database, app.log, deps.overrides);
  const bullQueue = await bullQueueOf(runtime.queue);
  const { services } = runtime;
  app.decorate('runtime', runtime);
  registerHttpMetrics(app, runtime.metrics, config.metricsToken);
  // Running jobs get half the shutdown window to finish, counted from the moment closing begins
  // (alongside in-flight requests), and are handed back to the queue by the time onClose is done:
  // the database, which the hand-back needs, is closed only after app.close() (server.ts).
  let jobsStopped: Promise<void> | null = null;
  const stopJobs = () => (jobsStopped ??= runtime.queue.stop(config.shutdownTimeoutMs / 2));
  app.addHook('preClose', async () => {
    void stopJobs().catch(() => undefined);
  });
  app.addHook('onClose', () => stopJobs());
  app.addHook('onClose', () => runtime.webhookDispatcher.stop());

  app.decorateRequest('auth', null);
  app.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    done();
  });

  registerErrorHandling(app);
  registerNulGuard(app);
  registerEventStreams(app);
  closeOnUnreadBody(app);
  // No upgrade-insecure-requests: self-hosted instances are often reached over plain http on a LAN,
  // where that directive would break the docs page's assets.
  // media-src blob:: the console plays a recording from a blob URL (its audio needs the bearer header).
  await registerSecurityHeaders(app, {
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: null, mediaSrc: ["'self'", 'blob:'] } },
  });
  await app.register(cors, {
    origin: config.corsOrigins.includes('*') ? true : config.corsOrigins,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    exposedHeaders: ['x-request-id', 'retry-after'],
  });
  await registerRateLimit(app, config, (request) => runtime.metrics?.rateLimited(request.routeOptions.url));
  await app.register(formbody, { bodyLimit: config.maxFileSize });
  await app.register(multipart, {
    limits: { fileSize: config.maxFileSize, files: 1, fields: 20, fieldSize: 64 * 1024, parts: 30 },
  });

  await app.register(
    swagger,
    swaggerOptions({ title: 'Transcribo', version: VERSION, description: 'Speech-to-text and LLM answers over what was said.' }),
  );
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });

  app.get('/openapi.json', { schema: { hide: true }, config: { rateLimit: false } }, () => app.swagger());

  // The web console at / for browsers (JSON for everyone else, and at /api).
  await registerConsole(app, { version: VERSION });

  await app.register(
    async (api) => {
      await api.register(healthRoutes, {
        prefix: '/health',
        version: VERSION,
        startedAt,
        checks: [
          { name: 'database', check: () => database.ping() },
          { name: 'storage', check: () => runtime.blobStore.ping() },
          ...(bullQueue ? [{ name: 'redis', check: () => bullQueue.ping() }] : []),
          ...(runtime.clamdCheck ? [{ name: 'clamav', check: runtime.clamdCheck }] : []),
        ],
      });
      await api.register(authRoutes, { prefix: '/auth', auth: services.auth, rateLimitMax: config.authRateLimitMax });
      await api.register(async (scope) => {
        requireAuth(scope, services.auth);
        await scope.register(recordingRoutes, {
          prefix: '/audio',
          recordings: services.recordings,
          maxUploadBytes: config.maxFileSize,
          intake: runtime.intake,
        });
        await scope.register(transcriptionRoutes, { prefix: '/audio', transcriptions: services.transcriptions });
        await scope.register(transcriptEditRoutes, { prefix: '/audio', editor: services.transcriptEdits });
        await scope.register(chatRoutes, { prefix: '/chat', chat: services.chat, completion: services.completion });
        await scope.register(completionRoutes, {
          prefix: '/chat',
          completion: services.completion,
          queue: runtime.queue,
          db: database.db,
          maxAttempts: config.jobAttempts,
        });
        await scope.register(summaryRoutes, { prefix: '/audio', summaries: services.summaries });
        await scope.register(jobRoutes, { prefix: '/jobs', jobs: services.jobs, events: runtime.jobEvents });
        await scope.register(searchRoutes, { prefix: '/search', search: services.search });
        await scope.register(webhookRoutes, { prefix: '/webhooks', webhooks: services.webhooks });
        await scope.register(privacyRoutes, { prefix: '/privacy', terms: services.privacyTerms });
        await scope.register(adminRoutes, {
          prefix: '/admin',
          db: database.db,
          admin: new AdminService({
            db: database.db,
            config,
            queueMode: runtime.queue.kind,
            // Mounted below, at its default path, whenever BullMQ runs the jobs.
            dashboardPath: bullQueue ? '/admin/queues/' : null,
          }),
        });
      });
    },
    { prefix: '/api/v1' },
  );

  await app.register(openAICompatRoutes, {
    prefix: '/v1',
    auth: services.auth,
    recordings: services.recordings,
    transcriptions: services.transcriptions,
    jobs: services.jobs,
    events: runtime.jobEvents,
    intake: runtime.intake,
    stt: config.stt,
    maxUploadBytes: config.maxFileSize,
  });

  await app.register(clientSecretRoutes, { prefix: '/v1/realtime', auth: services.auth });
  // GET /v1/realtime: live transcription over a WebSocket (OpenAI's realtime protocol).
  await registerRealtime(app, config, runtime);

  if (bullQueue) {
    // bull-board (and the static-file and template plugins it brings) is loaded only with BullMQ.
    const { registerQueueDashboard } = await import('./admin/queue-dashboard.js');
    // Read-only: the job rows are the truth, and the dashboard's retry or clean buttons act on Redis alone.
    await registerQueueDashboard(app, { queues: [bullQueue.queue], auth: services.auth, db: database.db, readOnly: true });
  }

  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
