import { Type } from 'typebox';
import { Nullable } from '../http/schemas.js';
import { MAX_KNOWN_SPEAKERS, MAX_REFERENCE_CHARS, MAX_SPEAKER_NAME_CHARS } from './speaker-hints.js';

export const TranscriptionStatus = Type.Union([
  Type.Literal('queued'),
  Type.Literal('processing'),
  Type.Literal('completed'),
  Type.Literal('failed'),
  Type.Literal('cancelled'),
]);

export const Word = Type.Object({
  word: Type.String(),
  start: Type.Number(),
  end: Type.Number(),
  confidence: Type.Optional(Type.Number()),
  edited: Type.Optional(Type.Boolean({ description: 'Changed by an edit: its times are interpolated inside the segment, not heard' })),
});

/**
 * Whisper's decoding figures for a segment, as the engine reported them (OpenAI-compatible servers
 * do; whisper.cpp's addon and pocketsphinx do not). Null when unknown, never a made-up 0.
 */
export const SegmentScores = Type.Object({
  avg_logprob: Nullable(Type.Number({ description: "Mean log-probability of the segment's tokens; null when the engine gave none" })),
  compression_ratio: Nullable(Type.Number({ description: "The text's gzip compression ratio; null when the engine gave none" })),
  no_speech_prob: Nullable(Type.Number({ description: 'Probability that the segment is silence; null when the engine gave none' })),
  temperature: Nullable(Type.Number({ description: 'Sampling temperature the segment was decoded at; null when the engine gave none' })),
});

export const Segment = Type.Object({
  id: Type.String({ format: 'uuid' }),
  index: Type.Integer(),
  start: Nullable(Type.Number({ description: 'Seconds from the start; null for text entries' })),
  end: Nullable(Type.Number()),
  text: Type.String(),
  words: Nullable(Type.Array(Word)),
  speaker: Nullable(Type.String()),
  ...SegmentScores.properties,
});

/** OpenAI's server_vad knobs, in its names (`chunking_strategy`, realtime `turn_detection`). */
export const VadOptions = Type.Object(
  {
    threshold: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, description: 'Speech probability that starts speech (default 0.5)' }),
    ),
    prefix_padding_ms: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 10_000, description: 'Audio kept before and after each stretch of speech (default 300)' }),
    ),
    silence_duration_ms: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 10_000, description: 'Silence that ends a stretch of speech (default 500)' }),
    ),
  },
  { additionalProperties: false },
);

export const Transcription = Type.Object({
  id: Type.String({ format: 'uuid' }),
  recording_id: Type.String({ format: 'uuid' }),
  engine: Type.String({ description: '"text" when the transcript was uploaded as text' }),
  model: Nullable(Type.String()),
  language: Nullable(Type.String()),
  status: TranscriptionStatus,
  progress: Type.Integer({ minimum: 0, maximum: 100 }),
  text: Nullable(Type.String()),
  error: Nullable(Type.String()),
  error_code: Nullable(Type.String()),
  job_id: Nullable(Type.String({ format: 'uuid', description: 'The background job; poll GET /api/v1/jobs/{id}' })),
  duration_seconds: Nullable(Type.Number()),
  created_at: Type.String({ format: 'date-time' }),
  started_at: Nullable(Type.String({ format: 'date-time' })),
  completed_at: Nullable(Type.String({ format: 'date-time' })),
  vad: Nullable(
    Type.Object({ threshold: Type.Number(), prefix_padding_ms: Type.Number(), silence_duration_ms: Type.Number() }, {
      description: 'Speech detection the transcription was asked for; null when the whole audio went to the engine',
    }),
  ),
  version: Type.Integer({
    minimum: 1,
    description: 'The current version: 1 as the engine wrote it, one more per edit. The ETag header names it; send it back in If-Match',
  }),
  segments: Type.Array(Segment),
});

export const TranscriptionParams = Type.Object({ transcription_id: Type.String({ format: 'uuid' }) });

export const TranscribeBody = Type.Object({
  engine: Type.Optional(
    Type.Union([Type.Literal('whisper'), Type.Literal('openai'), Type.Literal('sphinx')], {
      description: 'Defaults to STT_ENGINE',
    }),
  ),
  model: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: "The engine's model; defaults to its configured one" })),
  language: Type.Optional(
    Type.String({ pattern: '^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$', maxLength: 35, description: 'Omit to detect it' }),
  ),
  prompt: Type.Optional(Type.String({ maxLength: 4000 })),
  word_timestamps: Type.Optional(Type.Boolean({ description: 'Word-level times where the engine has them (default false)' })),
  vad: Type.Optional(
    Type.Union([Type.Boolean(), VadOptions], {
      description:
        'Cut silence before the engine (Silero VAD): true for the defaults, or the knobs to change. Times stay those ' +
        'of the original audio; audio with no speech completes with no segments. Default false.',
    }),
  ),
  known_speaker_names: Type.Optional(
    Type.Array(Type.String({ minLength: 1, maxLength: MAX_SPEAKER_NAME_CHARS }), {
      minItems: 1,
      maxItems: MAX_KNOWN_SPEAKERS,
      description:
        'Speakers to recognise by name (openai engine with a diarizing model only): the segments of the voice in ' +
        'known_speaker_references[i] get speaker known_speaker_names[i]. Up to 4, each given once.',
    }),
  ),
  known_speaker_references: Type.Optional(
    Type.Array(Type.String({ maxLength: MAX_REFERENCE_CHARS }), {
      minItems: 1,
      maxItems: MAX_KNOWN_SPEAKERS,
      description:
        'One sample of each named voice (OpenAI asks for 2–10 s), as a data URL data:audio/<type>;base64,<data> of at ' +
        'most 1 MiB of audio; as many as known_speaker_names, in the same order.',
    }),
  ),
});

export const TranscribeQuery = Type.Object({
  wait: Type.Integer({
    minimum: 0,
    maximum: 300,
    default: 0,
    description: 'Seconds to wait for the result; 200 with the transcript when it finishes in time',
  }),
});

export const TranscribeAccepted = Type.Object({
  transcription: Transcription,
  job_id: Type.String({ format: 'uuid' }),
});

export const FormatQuery = Type.Object({
  format: Type.Union(
    [Type.Literal('json'), Type.Literal('text'), Type.Literal('srt'), Type.Literal('vtt'), Type.Literal('verbose_json')],
    { default: 'json' },
  ),
  redact: Type.Boolean({
    default: false,
    description:
      'A copy with personal data (e-mails, phones, cards, IBANs, SSNs, DNI/NIE, IP addresses) and your sensitive terms ' +
      'replaced by placeholders such as <EMAIL_1>, the same value the same placeholder throughout: text, segments and words',
  }),
});
