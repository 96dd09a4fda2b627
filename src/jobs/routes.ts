import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { userIdOf } from '../http/auth-plugin.js';
import { problemResponses } from '../http/problem.js';
import { IdParams } from '../http/schemas.js';
import { Job } from './schemas.js';
import type { JobService } from './service.js';

const tags = ['jobs'];

/** Mounted under /api/v1/jobs inside an authenticated scope. */
export const jobRoutes: FastifyPluginAsyncTypebox<{ jobs: JobService }> = async (app, { jobs }) => {
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
