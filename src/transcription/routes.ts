import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { userIdOf } from '../http/auth-plugin.js';
import { problemResponses } from '../http/problem.js';
import { IdParams } from '../http/schemas.js';
import { Transcription, TranscriptionParams } from './schemas.js';
import type { TranscriptionService } from './service.js';

const tags = ['transcriptions'];

/** Mounted under /api/v1/audio inside an authenticated scope. */
export const transcriptionRoutes: FastifyPluginAsyncTypebox<{ transcriptions: TranscriptionService }> = async (
  app,
  { transcriptions },
) => {
  app.get(
    '/:id/transcription',
    {
      schema: {
        tags,
        summary: "A recording's latest transcription, with its segments",
        params: IdParams,
        response: { 200: Transcription, ...problemResponses(401, 404, 422) },
      },
    },
    async (request) => transcriptions.latestForRecording(userIdOf(request), request.params.id),
  );

  app.get(
    '/transcription/:transcription_id',
    {
      schema: {
        tags,
        summary: 'A transcription by id, with its segments',
        params: TranscriptionParams,
        response: { 200: Transcription, ...problemResponses(401, 404, 422) },
      },
    },
    async (request) => transcriptions.get(userIdOf(request), request.params.transcription_id),
  );
};
