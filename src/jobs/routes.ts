import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { userIdOf } from '../http/auth-plugin.js';
import { problemResponses } from '../http/problem.js';
import { IdParams } from '../http/schemas.js';
import { Job } from './schemas.js';
import type { JobService } from './service.js';
import type { JobEventHub } from './events.js';
import { respondWithEventStream } from '../http/sse.js';
import { Type } from 'typebox';

const tags = ['jobs'];

const FINAL = new Set(['completed', 'failed', 'cancelled']);
const POLL_MS = 1_000;

/** Mounted under /api/v1/jobs inside an authenticated scope. */
export const jobRoutes: FastifyPluginAsyncTypebox<{ jobs: JobService; events: JobEventHub }> = async (
  app,
  { jobs, events },
) => {
  app.get(
    '/:id/events',
    {
      schema: {
        tags,
        summary: 'Live job events (server-sent events)',
        description:
          '`progress` {progress}, `segment` {start, end, text} as the engine produces them, then one of ' +
          '`completed` (with the job, whose result names what was made), `failed` or `cancelled`, and the stream ' +
          'closes. Send Last-Event-ID to resume after a reconnect. Jobs run by another process are followed by polling. ' +
          'When the server shuts down the stream ends early with an `error` event (`service_unavailable`): reconnect.',
        params: IdParams,
        response: {
          200: { description: 'An event stream', content: { 'text/event-stream': { schema: Type.String() } } },
          ...problemResponses(401, 404, 422),
        },
      },
    },
    async (request, reply) => {
      const userId = userIdOf(request);
      const initial = await jobs.get(userId, request.params.id);
      const header = request.headers['last-event-id'];
      const lastId = typeof header === 'string' && /^\d+$/.test(header) ? Number(header) : null;
      return respondWithEventStream(request, reply, async ({ signal, send }) => {
        if (FINAL.has(initial.status)) return send(initial.status, initial);
        let close!: () => void;
        const closed = new Promise<void>((resolve) => (close = resolve));
        // The job as it ended, sent once; then the stream closes.
        let finished = null as Promise<void> | null;
        const finish = () =>
          (finished ??= jobs
            .get(userId, initial.id)
            .catch(() => initial)
            .then((job) => {
              send(job.status, job);
              close();
            }));
        send('progress', { progress: initial.progress });
        const live = events.subscribe(initial.id, lastId, (event) => {
          if (FINAL.has(event.event)) void finish();
          else send(event.event, event.data, event.id);
        });
        for (const event of live.replay) {
          if (!FINAL.has(event.event)) send(event.event, event.data, event.id);
        }
        // Covers jobs run by another process, whose events never reach this one.
        let polled: Promise<unknown> = Promise.resolve();
        const poll = setInterval(() => {
          polled = jobs
            .get(userId, initial.id)
            .then((job) => (FINAL.has(job.status) ? finish() : undefined))
            .catch(() => undefined);
        }, POLL_MS);
        signal.addEventListener('abort', () => close(), { once: true });
        if (signal.aborted) close();
        try {
          await closed;
        } finally {
          clearInterval(poll);
          live.unsubscribe();
          // The stream ends after its queries, so none outlives the app's close (and the database).
          await polled;
          if (finished) await finished;
        }
      });
    },
  );

  app.get(
    '/:id',
    {
      schema: {
        tags,
        summary: 'A background job: status, progress (0–100), error',
        params: IdParams,
        response: { 200: Job, ...problemResponses(401, 404, 422) },
      },
    },
    async (request) => jobs.get(userIdOf(request), request.params.id),
  );

  app.post(
    '/:id/cancel',
    {
      schema: {
        tags,
        summary: 'Cancel a job: a queued one never starts, a running one is stopped',
        params: IdParams,
        response: { 200: Job, ...problemResponses(401, 404, 422) },
      },
    },
    async (request) => jobs.cancel(userIdOf(request), request.params.id),
  );
};
