import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { userIdOf } from '../http/auth-plugin.js';
import { abortOnDisconnect } from '../http/sse.js';
import { problemResponses } from '../http/problem.js';
import { IdParams } from '../http/schemas.js';
import { SummaryBody, SummaryQuery, SummaryRefreshQuery, SummaryResponse } from './completion-schemas.js';
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
          'Made with structured (JSON) output, chunk by chunk and merged for long transcripts, and stored per provider ' +
          'and model: asking again with the same choice returns the stored summary (`cached: true`) without an LLM call ' +
          'until the transcript changes (text, speakers, segments), or until `?refresh=true`. A summary made without ' +
          'redaction never answers a request that redacts, nor the other way round. A new one replaces the stored one ' +
          'of that provider and model.',
        params: IdParams,
        querystring: SummaryRefreshQuery,
        body: Type.Union([SummaryBody, Type.Null()]),
        response: { 200: SummaryResponse, ...problemResponses(401, 404, 409, 413, 422, 429, 502, 503, 504) },
      },
    },
    async (request, reply) => {
      const refresh = request.query.refresh ?? false;
      return summaries.summarize(userIdOf(request), request.params.id, { ...request.body, refresh }, abortOnDisconnect(reply));
    },
  );

  app.get(
    '/:id/summary',
    {
      schema: {
        tags: ['chat'],
        summary: "The stored summary of a recording's latest transcript, without an LLM call",
        description:
          'The one made last (by `provider` and/or `model` when given) of the latest completed transcription, with ' +
          '`stale: true` when the transcript changed since; POST makes it again. 404 `summary_not_found` when none ' +
          'is stored.',
        params: IdParams,
        querystring: SummaryQuery,
        response: { 200: SummaryResponse, ...problemResponses(401, 404, 409, 422) },
      },
    },
    async (request) => summaries.latest(userIdOf(request), request.params.id, request.query),
  );
};
