import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { userIdOf } from '../http/auth-plugin.js';
import { abortOnDisconnect } from '../http/sse.js';
import { problemResponses } from '../http/problem.js';
import { IdParams } from '../http/schemas.js';
import { SummaryBody, SummaryResponse } from './completion-schemas.js';
import type { SummaryService } from './summary.js';

/** Mounted under /api/v1/audio inside an authenticated scope. */
export const summaryRoutes: FastifyPluginAsyncTypebox<{ summaries: SummaryService }> = async (app, { summaries }) => {
  app.post(
    '/:id/summary',
    {
      schema: {
        tags: ['chat'],
        summary: "Summarise a recording's transcript: key points and action items with citations",
        description:
          'Made with structured (JSON) output, chunk by chunk and merged for long transcripts, and stored: asking ' +
          'again returns the stored summary (`cached: true`) without an LLM call until the transcript changes.',
        params: IdParams,
        body: Type.Union([SummaryBody, Type.Null()]),
        response: { 200: SummaryResponse, ...problemResponses(401, 404, 409, 413, 422, 429, 502, 503, 504) },
      },
    },
    async (request, reply) => {
      return summaries.summarize(userIdOf(request), request.params.id, request.body ?? {}, abortOnDisconnect(reply));
    },
  );
};
