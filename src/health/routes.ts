import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';

export interface ReadinessCheck {
  name: string;
  check: () => Promise<void>;
}

export interface HealthOptions {
  version: string;
  startedAt: number;
  checks: ReadinessCheck[];
}

const CHECK_TIMEOUT_MS = 2_000;
const tags = ['health'];

const CheckResult = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('fail')]),
  error: Type.Optional(Type.String()),
  latency_ms: Type.Number(),
});
const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
  checks: Type.Record(Type.String(), CheckResult),
});

async function runCheck(check: ReadinessCheck) {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check.check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      }),
    ]);
    return { status: 'ok' as const, latency_ms: Math.round(performance.now() - started) };
  } catch (error) {
    return {
      status: 'fail' as const,
      error: error instanceof Error ? error.message : String(error),
      latency_ms: Math.round(performance.now() - started),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** The seed's health routes, mounted at /api/v1/health. */
export const healthRoutes: FastifyPluginAsyncTypebox<HealthOptions> = async (app, options) => {
  app.get(
    '/',
    {
      schema: {
        tags,
        summary: 'Service status',
        response: {
          200: Type.Object({
            status: Type.Literal('healthy'),
            version: Type.String(),
            uptime: Type.Number({ description: 'Seconds since start' }),
          }),
        },
      },
    },
    async () => ({
      status: 'healthy' as const,
      version: options.version,
      uptime: Math.round((Date.now() - options.startedAt) / 10) / 100,
    }),
  );

  // The probes are never rate limited: an orchestrator must not see a busy client as a dead process.
  app.get(
    '/liveness',
    {
      config: { rateLimit: false },
      schema: {
        tags,
        summary: 'The process is up (no dependencies checked)',
        response: { 200: Type.Object({ status: Type.Literal('alive') }) },
      },
    },
    async () => ({ status: 'alive' as const }),
  );

  app.get(
    '/readiness',
    {
      config: { rateLimit: false },
      schema: {
        tags,
        summary: 'Dependencies answer; 503 names the check that failed',
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (_request, reply) => {
      const results = await Promise.all(options.checks.map(async (c) => [c.name, await runCheck(c)] as const));
      const ready = results.every(([, r]) => r.status === 'ok');
      return reply.code(ready ? 200 : 503).send({
        status: ready ? 'ready' : 'not_ready',
        checks: Object.fromEntries(results),
      });
    },
  );
};
