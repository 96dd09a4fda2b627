import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { userIdOf } from '../http/auth-plugin.js';
import { problemResponses } from '../http/problem.js';
import { IdParams } from '../http/schemas.js';
import { VerboseTranscription } from './formats.js';
import { sendTranscription } from './render.js';
import {
  FormatQuery,
  TranscribeAccepted,
  TranscribeBody,
  TranscribeQuery,
  Transcription,
  TranscriptionParams,
} from './schemas.js';
import type { TranscriptionService } from './service.js';
import type { TranscriptionView } from './view.js';
import type { OutputFormat } from './formats.js';
import { etagOf } from './edits/store.js';
import type { FastifyReply } from 'fastify';
import { vadFromRequest } from '../vad/settings.js';
import { MAX_HINTS_REQUEST_BYTES } from './speaker-hints.js';

const tags = ['transcriptions'];

const FORMATS_DOC =
  '`format`: json (default, this API\'s shape), text, srt, vtt, or verbose_json (OpenAI\'s shape: task, language, ' +
  'duration, text, segments[], words[]; each segment\'s `id` is its position from 0, and its avg_logprob, ' +
  'compression_ratio, no_speech_prob and temperature are null when the engine did not report them). ' +
  '`redact=true`: the same with personal data replaced by placeholders, in every format.';

/** Any format of a transcript carries its version's ETag: the If-Match an edit of it sends back. */
function sendVersioned(reply: FastifyReply, view: TranscriptionView, format: OutputFormat): FastifyReply {
  return sendTranscription(reply.header('etag', etagOf(view.id, view.version)), view, format);
}

const renderedResponses = {
  200: {
    description: 'The transcription in the asked format',
    content: {
      // verbose_json answers in OpenAI's shape, under the same media type.
      'application/json': { schema: Type.Union([Transcription, VerboseTranscription]) },
      'text/plain': { schema: Type.String() },
      'application/x-subrip': { schema: Type.String() },
      'text/vtt': { schema: Type.String() },
    },
  },
  ...problemResponses(401, 404, 409, 422),
};

/** Mounted under /api/v1/audio inside an authenticated scope. */
export const transcriptionRoutes: FastifyPluginAsyncTypebox<{ transcriptions: TranscriptionService }> = async (
  app,
  { transcriptions },
) => {
  app.post(
    '/:id/transcribe',
    {
      // Voice samples for known speakers come as data URLs inside the JSON.
      bodyLimit: MAX_HINTS_REQUEST_BYTES,
      schema: {
        tags,
        summary: 'Transcribe a recording in the background',
        description:
          '202 with the queued transcription and its job id. With `?wait=N` (≤ 300 s) the answer is 200 with the ' +
          'finished transcription when it completes in time (still 202 otherwise).',
        params: IdParams,
        querystring: TranscribeQuery,
        body: Type.Union([TranscribeBody, Type.Null()]),
        response: { 200: Transcription, 202: TranscribeAccepted, ...problemResponses(401, 404, 409, 413, 422, 503) },
      },
    },
    async (request, reply) => {
      const userId = userIdOf(request);
      const body = request.body ?? {};
      const queued = await transcriptions.request(userId, request.params.id, {
        ...body,
        word_timestamps: body.word_timestamps ?? false,
        vad: vadFromRequest(body.vad),
      });
      const current = await transcriptions.waitFor(userId, queued, request.query.wait);
      if (request.query.wait > 0 && ['completed', 'failed', 'cancelled'].includes(current.status)) {
        return reply.code(200).send(current);
      }
      return reply.code(202).send({ transcription: current, job_id: queued.job_id! });
    },
  );

  app.get(
    '/:id/transcription',
    {
      schema: {
        tags,
        summary: "A recording's latest transcription",
        description: FORMATS_DOC,
        params: IdParams,
        querystring: FormatQuery,
        response: renderedResponses,
      },
    },
    async (request, reply) =>
      sendVersioned(
        reply,
        await transcriptions.latestForRecording(userIdOf(request), request.params.id, { redact: request.query.redact }),
        request.query.format,
      ),
  );

  app.get(
    '/transcription/:transcription_id',
    {
      schema: {
        tags,
        summary: 'A transcription by id',
        description: FORMATS_DOC,
        params: TranscriptionParams,
        querystring: FormatQuery,
        response: renderedResponses,
      },
    },
    async (request, reply) =>
      sendVersioned(
        reply,
        await transcriptions.get(userIdOf(request), request.params.transcription_id, { redact: request.query.redact }),
        request.query.format,
      ),
  );
};
