/** GET /api/v1/audio/{id}/speech-timestamps: where a recording's speech is (Silero VAD). */

import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import { AudioDecodeError, decodeToWav } from '../audio/decode.js';
import { uploadDecoders } from '../audio/limiter.js';
import { userIdOf } from '../http/auth-plugin.js';
import { AppError } from '../http/errors.js';
import { problemResponses } from '../http/problem.js';
import { IdParams } from '../http/schemas.js';
import { ownedName, UPLOAD_TEMP } from '../process/leftovers.js';
import { speechRegionsInWav, type SpeechRegion } from '../vad/regions.js';
import { DEFAULT_VAD_SETTINGS } from '../vad/settings.js';
import { uploadTempDir, type AudioIntakeOptions } from './audio-intake.js';
import type { RecordingService } from './service.js';

export const SpeechTimestampsQuery = Type.Object({
  threshold: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, default: DEFAULT_VAD_SETTINGS.threshold, description: 'Speech probability that starts speech' }),
  silence_duration_ms: Type.Integer({
    minimum: 0,
    maximum: 10_000,
    default: DEFAULT_VAD_SETTINGS.silenceDurationMs,
    description: 'Silence that ends a region',
  }),
  padding_ms: Type.Integer({ minimum: 0, maximum: 10_000, default: 0, description: 'Added before and after each region (regions it makes overlap are merged)' }),
});

export const SpeechTimestamps = Type.Object({
  duration: Type.Number({ description: 'Seconds of decoded audio' }),
  regions: Type.Array(Type.Object({ start: Type.Number({ description: 'Seconds' }), end: Type.Number() })),
});

/** Mounted under /api/v1/audio inside an authenticated scope. */
export const speechTimestampRoutes: FastifyPluginAsyncTypebox<{ recordings: RecordingService; intake: AudioIntakeOptions }> = async (
  app,
  { recordings, intake },
) => {
  app.get(
    '/:id/speech-timestamps',
    {
      schema: {
        tags: ['recordings'],
        summary: "Where a recording's speech is",
        description:
          'Stretches of speech found by Silero VAD with OpenAI server_vad semantics, in seconds from the start. ' +
          'The audio is decoded for it (cheap next to transcribing: a few ms of CPU per second of audio). ' +
          '409 recording_has_no_audio for a recording uploaded as text.',
        params: IdParams,
        querystring: SpeechTimestampsQuery,
        response: { 200: SpeechTimestamps, ...problemResponses(401, 404, 409, 413, 422) },
      },
    },
    async (request) => {
      const file = await recordings.audioFile(userIdOf(request), request.params.id);
      // A client that hangs up stops the decode and the detection it asked for.
      const abort = new AbortController();
      request.raw.once('close', () => {
        if (!request.raw.complete || request.raw.destroyed) abort.abort();
      });
      return speechTimestampsOf(recordings, intake, file.key, request.query, abort.signal);
    },
  );
};

async function speechTimestampsOf(
  recordings: RecordingService,
  intake: AudioIntakeOptions,
  key: string,
  query: Static<typeof SpeechTimestampsQuery>,
  signal: AbortSignal,
): Promise<Static<typeof SpeechTimestamps>> {
  const work = path.join(uploadTempDir(intake), ownedName(UPLOAD_TEMP));
  await mkdir(work, { recursive: true });
  try {
    const source = path.join(work, 'source');
    const blob = await recordings.readAudio(key);
    await pipeline(blob.stream, createWriteStream(source), { signal });
    // Decode and detection both hold a decoder slot: both are CPU work that must queue behind uploads, not pile up.
    return await (intake.decoders ?? uploadDecoders).run(async () => {
      const audio = await decodeToWav(await intake.ffmpeg(), source, work, { signal, maxSeconds: intake.maxDurationSeconds }).catch(
        (error: unknown) => {
          if (error instanceof AudioDecodeError) throw new AppError('audio_undecodable', `The audio cannot be decoded: ${error.reason}`);
          throw error;
        },
      );
      const regions: SpeechRegion[] = await speechRegionsInWav(audio.wavPath, {
        threshold: query.threshold,
        silenceDurationMs: query.silence_duration_ms,
        paddingMs: query.padding_ms,
      });
      return { duration: audio.durationSeconds, regions };
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
