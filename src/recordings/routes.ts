import type {} from '@fastify/multipart';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import { userIdOf } from '../http/auth-plugin.js';
import { AppError } from '../http/errors.js';
import { jsonStream } from '../http/json-stream.js';
import { problemResponses } from '../http/problem.js';
import { IdParams, Page, PageQuery } from '../http/schemas.js';
import type { AudioIntakeOptions } from './audio-intake.js';
import { readUploadForm } from './audio-form.js';
import { parseRange } from './range.js';
import { AudioUploadForm, Recording, RecordingWithTranscription, TextUploadBody } from './schemas.js';
import type { RecordingService } from './service.js';
import { speechTimestampRoutes } from './speech-timestamps.js';

const tags = ['recordings'];

/** The stored type (audio/wav, audio/mpeg, audio/mp4, audio/ogg, audio/webm, audio/flac, …); octet-stream if none was recorded. */
const AUDIO_FILE = {
  'audio/*': { schema: Type.String({ format: 'binary' }) },
  'application/octet-stream': { schema: Type.String({ format: 'binary' }) },
};

export interface RecordingRoutesOptions {
  recordings: RecordingService;
  maxUploadBytes: number;
  intake: AudioIntakeOptions;
}

const TEXT_BODY_TYPES = new Set(['application/json', 'application/x-www-form-urlencoded']);

/** Fastify parses text/plain (and passes an absent body) through: neither is an upload of ours. */
function refuseOtherBodies(contentType: string | undefined, body: unknown): void {
  if (!contentType && (body === undefined || body === null || body === '')) {
    throw new AppError('bad_request', 'The request has no body: send multipart/form-data with a file part, or a JSON or form text entry');
  }
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (!TEXT_BODY_TYPES.has(type)) {
    throw new AppError(
      'unsupported_media_type',
      `${type || 'A body without a content type'} is not accepted here: send multipart/form-data with a file part, ` +
        'or application/json or application/x-www-form-urlencoded with title and original_text',
    );
  }
}

/** The seed's /api/v1/audio routes; mounted inside an authenticated scope. */
export const recordingRoutes: FastifyPluginAsyncTypebox<RecordingRoutesOptions> = async (
  app,
  { recordings, maxUploadBytes, intake },
) => {
  await app.register(speechTimestampRoutes, { recordings, intake });

  app.post(
    '/upload',
    {
      bodyLimit: maxUploadBytes,
      schema: {
        tags,
        summary: 'Upload audio, or a transcript as text',
        description:
          'multipart/form-data with a `file` part (and optional `title`, `language`, `source`) stores audio: its ' +
          'type is decided by its content, its container header must be sound (the few formats whose header does not ' +
          'give the length are decoded once), and it may be at most MAX_FILE_SIZE bytes. The full decode happens when ' +
          'it is transcribed. ' +
          'JSON, application/x-www-form-urlencoded, or multipart/form-data without a file, with `title`, ' +
          '`original_text`, `language`, `source` stores a transcript you already have, as a completed ' +
          'transcription split into sentence segments. Audio longer than MAX_AUDIO_DURATION_SECONDS is 413 audio_too_long.',
        body: {
          content: {
            'multipart/form-data': { schema: AudioUploadForm },
            'application/json': { schema: TextUploadBody },
            'application/x-www-form-urlencoded': { schema: TextUploadBody },
          },
        },
        response: { 201: RecordingWithTranscription, ...problemResponses(400, 401, 413, 415, 422) },
      },
    },
    async (request, reply) => {
      const userId = userIdOf(request);
      let body: Static<typeof TextUploadBody>;
      if (request.isMultipart()) {
        const form = await readUploadForm(request, intake);
        if (form.kind === 'audio') {
          const recording = await recordings.createAudioEntry(userId, form.audio, form.fields, form.filename);
          return reply.code(201).send({ ...recording, transcription: null });
        }
        body = form.body;
      } else {
        refuseOtherBodies(request.headers['content-type'], request.body);
        body = request.body as Static<typeof TextUploadBody>;
      }
      const entry = await recordings.createTextEntry(userId, body);
      // Streamed: the entry echoes the text and its segments, megabytes for a long transcript. The
      // stream carries the documented 201 body, which the type provider cannot tell.
      const streamed = jsonStream(entry) as unknown as typeof entry;
      return reply.code(201).type('application/json; charset=utf-8').send(streamed);
    },
  );

  app.get(
    '/:id/file',
    {
      schema: {
        tags,
        summary: 'The original audio file (supports Range requests)',
        params: IdParams,
        response: {
          200: { description: 'The whole file, in the audio type its content was recognised as', content: AUDIO_FILE },
          206: { description: 'The requested byte range', content: AUDIO_FILE },
          ...problemResponses(401, 404, 409, 416, 422),
        },
      },
    },
    async (request, reply) => {
      const file = await recordings.audioFile(userIdOf(request), request.params.id);
      const range = parseRange(request.headers.range, file.size);
      const blob = await recordings.readAudio(file.key, range);
      void reply
        .type(file.mimeType)
        .header('accept-ranges', 'bytes')
        .header('content-disposition', `inline; filename*=UTF-8''${encodeURIComponent(file.title)}`);
      if (range) {
        void reply
          .code(206)
          .header('content-range', `bytes ${range.start}-${range.end}/${blob.size}`)
          .header('content-length', range.end - range.start + 1);
      } else {
        void reply.header('content-length', blob.size);
      }
      // The documented 200/206 bodies are binary; the type provider can only express that as a string.
      return reply.send(blob.stream as unknown as string);
    },
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
