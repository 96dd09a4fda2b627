import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { userIdOf } from '../http/auth-plugin.js';
import { problemResponses } from '../http/problem.js';
import { Nullable } from '../http/schemas.js';
import type { SearchService } from './service.js';

const SearchHit = Type.Object({
  recording_id: Type.String({ format: 'uuid' }),
  recording_title: Type.String(),
  transcription_id: Type.String({ format: 'uuid' }),
  segment_id: Type.String({ format: 'uuid' }),
  index: Type.Integer(),
  start: Nullable(Type.Number()),
  end: Nullable(Type.Number()),
  text: Type.String(),
  speaker: Nullable(Type.String({ description: 'Who spoke; null where the transcript names nobody' })),
  snippet: Type.String({ description: 'HTML-escaped, with matches in <mark>…</mark>' }),
  rank: Type.Number(),
});

/** Mounted under /api/v1/search inside an authenticated scope. */
export const searchRoutes: FastifyPluginAsyncTypebox<{ search: SearchService }> = async (app, { search }) => {
  app.get(
    '/',
    {
      schema: {
        tags: ['search'],
        summary: 'Full-text search over your transcripts',
        description:
          'Each transcript is searched in its own language (stemming, stop words). Web-search syntax: ' +
          '"quoted phrases", `or`, `-excluded`. Best matches first.',
        querystring: Type.Object({
          q: Type.String({ minLength: 1, maxLength: 500, pattern: '\\S' }),
          limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
          offset: Type.Integer({ minimum: 0, maximum: 1000, default: 0 }),
        }),
        response: { 200: Type.Object({ items: Type.Array(SearchHit) }), ...problemResponses(401, 422) },
      },
    },
    async (request) => ({
      items: await search.search(userIdOf(request), request.query.q, request.query.limit, request.query.offset),
    }),
  );
};
