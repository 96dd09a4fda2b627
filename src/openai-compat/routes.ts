import { rm } from 'node:fs/promises';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { SttConfig } from '../config.js';
import { requireAuth, userIdOf } from '../http/auth-plugin.js';
import { AppError } from '../http/errors.js';
import type { AuthService } from '../auth/service.js';
import type { JobEventHub } from '../jobs/events.js';
import type { JobService } from '../jobs/service.js';
import type { AudioIntakeOptions } from '../recordings/audio-intake.js';
import { readAudioParts } from '../recordings/audio-form.js';
import { MAX_HINTS_REQUEST_BYTES } from '../transcription/speaker-hints.js';
import type { RecordingService } from '../recordings/service.js';
import {
  CONTENT_TYPES,
  OpenAITranscriptionJson,
  toSrt,
  toText,
  toVerboseJson,
  toVtt,
} from '../transcription/formats.js';
import type { TranscriptionService } from '../transcription/service.js';
import type { TranscriptionView } from '../transcription/view.js';
import { formatInput } from '../transcription/render.js';
import { failedJobError, sendOpenAIError, useOpenAIErrors } from './errors.js';
import { DiarizedTranscription, toDiarizedJson } from './diarized.js';
import { checkFields, OPENAI_FORMATS, vadOf, type OpenAIRequest } from './form.js';
import { listedModels } from './models.js';
import { streamTranscription } from './stream.js';

export interface OpenAICompatOptions {
  auth: AuthService;
  recordings: RecordingService;
  transcriptions: TranscriptionService;
  jobs: JobService;
  /** The jobs' live events, which a streamed request relays. */
  events: JobEventHub;
  intake: AudioIntakeOptions;
  stt: SttConfig;
  maxUploadBytes: number;
}

/** Longest a synchronous OpenAI-style request waits for its transcript. */
const WAIT_SECONDS = 600;

const tags = ['openai-compatible'];

const OpenAIErrorSchema = Type.Object({
  error: Type.Object({
    message: Type.String(),
    type: Type.String(),
    param: Type.Union([Type.String(), Type.Null()]),
    code: Type.Union([Type.String(), Type.Null()]),
  }),
});

function render(view: TranscriptionView, request: OpenAIRequest): { type?: string; body: string | ({ text: string } & Record<string, unknown>) } {
  const input = formatInput(view);
  switch (request.format) {
    case 'json':
      return { body: { text: input.text } };
    case 'text':
      return { type: CONTENT_TYPES.text, body: toText(input) };
    case 'srt':
      return { type: CONTENT_TYPES.srt, body: toSrt(input) };
    case 'vtt':
      return { type: CONTENT_TYPES.vtt, body: toVtt(input) };
    case 'diarized_json':
      // A string with a JSON content type is sent as it is, past the verbose shape's serializer.
      return { type: 'application/json; charset=utf-8', body: JSON.stringify(toDiarizedJson(input)) };
    case 'verbose_json': {
      const verbose = toVerboseJson(input);
      const words = request.granularities.has('word');
      const segments = request.granularities.size === 0 || request.granularities.has('segment');
      return {
        body: {
          task: verbose.task,
          language: verbose.language,
          duration: verbose.duration,
          text: verbose.text,
          ...(segments ? { segments: verbose.segments } : {}),
          ...(words ? { words: verbose.words } : {}),
        },
      };
    }
  }
}

/**
 * `POST /v1/audio/transcriptions` and `GET /v1/models`, as OpenAI's SDKs call them. Errors and
 * unknown routes answer in OpenAI's shape; an unknown route is a 404 with or without a key, as
 * elsewhere in the API, so the routes sit in an authenticated scope of their own.
 */
export const openAICompatRoutes: FastifyPluginAsyncTypebox<OpenAICompatOptions> = async (app, options) => {
  useOpenAIErrors(app);
  // `options` still carries this plugin's prefix; the inner scope must not add it a second time.
  await app.register(authenticatedRoutes, { ...options, prefix: '' });
};

const authenticatedRoutes: FastifyPluginAsyncTypebox<OpenAICompatOptions> = async (app, options) => {
  requireAuth(app, options.auth);

  app.get(
    '/models',
    {
      schema: {
        tags,
        summary: 'Speech models this server answers to',
        response: {
          200: Type.Object({
            object: Type.Literal('list'),
            data: Type.Array(
              Type.Object({ id: Type.String(), object: Type.Literal('model'), created: Type.Integer(), owned_by: Type.String() }),
            ),
          }),
          401: OpenAIErrorSchema,
        },
      },
    },
    async () => ({
      object: 'list' as const,
      data: listedModels(options.stt).map((id) => ({ id, object: 'model' as const, created: 0, owned_by: 'transcribo' })),
    }),
  );

  app.post(
    '/audio/transcriptions',
    {
      bodyLimit: options.maxUploadBytes,
      schema: {
        tags,
        summary: 'Transcribe audio (OpenAI-compatible)',
        description:
          'multipart/form-data with `file`, `model` (whisper-1 means the default engine, gpt-4o-transcribe-diarize ' +
          'too, or the openai engine with a diarizing model when that is the default; also sphinx, whisper, ' +
          'whisper-<model>, openai/<model>), `language`, `prompt`, `response_format` (json, text, srt, vtt, ' +
          'verbose_json, diarized_json), `temperature`, `timestamp_granularities[]`, `chunking_strategy` (`auto`, or ' +
          '`{"type":"server_vad","threshold","prefix_padding_ms","silence_duration_ms"}` as JSON or as ' +
          '`chunking_strategy[…]` fields: voice activity detection cuts the audio into speech regions first; ' +
          'times stay on the file\'s timeline), `known_speaker_names[]` with `known_speaker_references[]` (up to 4 ' +
          'names and as many `data:audio/…;base64,` samples, for the openai engine with a diarizing model; each field ' +
          'at most 64 KiB), `stream`. `response_format=diarized_json` answers OpenAI\'s TranscriptionDiarized: ' +
          'segments `{type: "transcript.text.segment", id, start, end, text, speaker}` and `usage` in seconds; ' +
          'engines that do not diarize label every segment `A`. With `stream=true` (response_format json or text) the ' +
          'answer is server-sent events as OpenAI sends them, `data:` lines only: `{"type":"transcript.text.delta",' +
          '"delta"}` per segment as the engine produces it, then `{"type":"transcript.text.done","text","usage":' +
          '{"type":"duration","seconds"}}`; the deltas add up to `text`. A failure after the stream began is an ' +
          '`event: error` whose data is `{error: {...}}`; closing the connection cancels the transcription. ' +
          'The audio is kept as a recording of the caller (source "api"). Errors use OpenAI\'s ' +
          '`{error: {message, type, param, code}}` shape.',
        body: {
          content: {
            // Documentation only: the form is read part by part as it streams in.
            'multipart/form-data': {
              schema: Type.Unsafe<unknown>({
                type: ['object', 'null'],
                required: ['file', 'model'],
                properties: {
                  file: { type: 'string', format: 'binary' },
                  model: { type: 'string', examples: ['whisper-1', 'sphinx', 'whisper-base.en'] },
                  language: { type: 'string' },
                  prompt: { type: 'string' },
                  response_format: { type: 'string', enum: [...OPENAI_FORMATS] },
                  temperature: { type: 'number', minimum: 0, maximum: 1 },
                  'timestamp_granularities[]': { type: 'array', items: { type: 'string', enum: ['word', 'segment'] } },
                  'known_speaker_names[]': { type: 'array', maxItems: 4, items: { type: 'string', maxLength: 64 } },
                  'known_speaker_references[]': {
                    type: 'array',
                    maxItems: 4,
                    items: { type: 'string', pattern: '^data:audio/', description: 'data:audio/<type>;base64,<data>' },
                  },
                  stream: { type: 'boolean', default: false },
                  chunking_strategy: {
                    description: '"auto", or a server_vad object as JSON text',
                    anyOf: [
                      { type: 'string', enum: ['auto'] },
                      { type: 'string', contentMediaType: 'application/json', examples: ['{"type":"server_vad","silence_duration_ms":500}'] },
                    ],
                  },
                },
              }),
            },
          },
        },
        response: {
          200: {
            description: 'The transcript in the asked response_format',
            content: {
              // diarized_json is sent as text, so this union only documents it.
              'application/json': { schema: Type.Union([OpenAITranscriptionJson, DiarizedTranscription]) },
              'text/plain': { schema: Type.String() },
              'application/x-subrip': { schema: Type.String({ description: 'response_format=srt' }) },
              'text/vtt': { schema: Type.String({ description: 'response_format=vtt' }) },
              'text/event-stream': {
                schema: Type.String({ description: 'stream=true: transcript.text.delta events, then transcript.text.done' }),
              },
            },
          },
          400: OpenAIErrorSchema,
          401: OpenAIErrorSchema,
          404: OpenAIErrorSchema,
          409: OpenAIErrorSchema,
          413: OpenAIErrorSchema,
          429: OpenAIErrorSchema,
          500: OpenAIErrorSchema,
          502: OpenAIErrorSchema,
          503: OpenAIErrorSchema,
          504: OpenAIErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const userId = userIdOf(request);
      // Refused before the upload is read and stored: nothing would transcribe it now.
      options.transcriptions.assertQueueAvailable();
      if (!request.isMultipart()) {
        throw new AppError('unsupported_media_type', 'Send multipart/form-data with a file part');
      }
      let view: TranscriptionView;
      const form = await readAudioParts(request, options.intake, { maxFieldBytes: MAX_HINTS_REQUEST_BYTES });
      let fields: OpenAIRequest;
      try {
        fields = checkFields(form.fields, options.stt);
      } catch (error) {
        await rm(form.audio.tempPath, { force: true });
        throw error;
      }
      const recording = await options.recordings.createAudioEntry(
        userId,
        form.audio,
        { language: fields.language, source: 'api' },
        form.filename,
      );
      const queued = await options.transcriptions.request(userId, recording.id, {
        engine: fields.choice.engine,
        model: fields.choice.model,
        language: fields.language,
        prompt: fields.prompt,
        word_timestamps: fields.granularities.has('word'),
        vad: vadOf(fields.chunking),
        ...(fields.speakers ? { known_speaker_names: fields.speakers.names, known_speaker_references: fields.speakers.references } : {}),
      });
      if (fields.stream) return streamTranscription(request, reply, options, userId, queued);
      // A client that hangs up does not want the work any more. (The response's 'close', not the
      // request's: the request closes as soon as its body has been read.)
      const abandon = () => {
        if (!reply.raw.writableFinished && queued.job_id) {
          void options.jobs.cancel(userId, queued.job_id).catch(() => undefined);
        }
      };
      reply.raw.once('close', abandon);
      try {
        view = await options.transcriptions.waitFor(userId, queued, WAIT_SECONDS);
      } finally {
        reply.raw.off('close', abandon);
      }
      if (view.status === 'failed') return sendOpenAIError(reply, failedJobError(view.error_code, view.error));
      if (view.status !== 'completed') {
        throw new AppError('gateway_timeout', `The transcription is still ${view.status}; poll GET /api/v1/audio/transcription/${view.id}`);
      }
      const out = render(view, fields);
      if (out.type) void reply.type(out.type);
      return reply.send(out.body);
    },
  );
};
