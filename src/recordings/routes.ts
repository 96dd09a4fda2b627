import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { userIdOf } from '../http/auth-plugin.js';
import { problemResponses } from '../http/problem.js';
import { IdParams, Page, PageQuery } from '../http/schemas.js';
import { Recording, RecordingWithTranscription, TextUploadBody } from './schemas.js';
import type { RecordingService } from './service.js';

const tags = ['recordings'];

export interface RecordingRoutesOptions {
  recordings: RecordingService;
  maxUploadBytes: number;
}

/** The seed's /api/v1/audio routes; mounted inside an authenticated scope. */
export const recordingRoutes: FastifyPluginAsyncTypebox<RecordingRoutesOptions> = async (
  app,
  { recordings, maxUploadBytes },
) => {
  app.post(
    '/upload',
    {
      bodyLimit: maxUploadBytes,
      schema: {
        tags,
        summary: 'Upload a transcript as text',
        description:
          'JSON or application/x-www-form-urlencoded with `title`, `original_text`, `language`, `source`. ' +
          'Creates a recording and a completed transcription split into sentence segments.',
        consumes: ['application/json', 'application/x-www-form-urlencoded'],
        body: TextUploadBody,
        response: { 201: RecordingWithTranscription, ...problemResponses(400, 401, 413, 415, 422) },
      },
    },
    async (request, reply) => reply.code(201).send(await recordings.createTextEntry(userIdOf(request), request.body)),
  );

  app.get(
    '/',
    {
      schema: {
        tags,
        summary: 'Your recordings, newest first',
        querystring: PageQuery,
        response: { 200: Page(Recording), ...problemResponses(401, 422) },
      },
    },
    async (request) => recordings.list(userIdOf(request), request.query),
  );

  app.get(
    '/:id',
    {
      schema: {
        tags,
        summary: 'One recording',
        params: IdParams,
        response: { 200: Recording, ...problemResponses(401, 404, 422) },
      },
    },
    async (request) => recordings.get(userIdOf(request), request.params.id),
  );

  app.delete(
    '/:id',
    {
      schema: {
        tags,
        summary: 'Delete a recording and everything derived from it',
        params: IdParams,
        response: { 204: Type.Null(), ...problemResponses(401, 404, 422) },
      },
    },
    async (request, reply) => {
      await recordings.delete(userIdOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );
};
