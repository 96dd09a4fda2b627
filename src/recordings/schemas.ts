import { Type } from 'typebox';
import { Nullable } from '../http/schemas.js';
import { Transcription } from '../transcription/schemas.js';

export const LanguageTag = Type.String({
  pattern: '^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$',
  maxLength: 35,
  description: 'BCP 47 language tag, e.g. "es" or "en-US"',
});

export const TextUploadBody = Type.Object({
  title: Type.String({ minLength: 1, maxLength: 500, pattern: '\\S', description: 'Not blank' }),
  original_text: Type.String({ minLength: 1, description: 'The transcript itself' }),
  language: Type.Optional(LanguageTag),
  source: Type.String({ minLength: 1, maxLength: 64, default: 'upload' }),
});

export const Recording = Type.Object({
  id: Type.String({ format: 'uuid' }),
  title: Type.String(),
  language: Nullable(Type.String()),
  source: Type.String(),
  kind: Type.Union([Type.Literal('text'), Type.Literal('audio')]),
  original_text: Nullable(Type.String()),
  mime_type: Nullable(Type.String()),
  size_bytes: Type.Integer(),
  duration_seconds: Nullable(Type.Number()),
  sha256: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});

export const RecordingWithTranscription = Type.Object({
  ...Recording.properties,
  transcription: Type.Union([Transcription, Type.Null()], {
    description: 'The transcript of a text upload; null for audio until you transcribe it',
  }),
});

/**
 * Documentation of the multipart form; the fields are checked by hand as the stream is read. Without
 * a file, `title` and `original_text` make it a text upload (the JSON body's fields, sent as a form).
 */
export const AudioUploadForm = Type.Unsafe<unknown>({
  type: ['object', 'null'],
  properties: {
    file: { type: 'string', format: 'binary', description: 'The audio (wav, mp3, m4a, ogg/opus, webm, flac)' },
    original_text: { type: 'string', description: 'Instead of a file: the transcript itself (title is then required)' },
    title: { type: 'string', maxLength: 500, description: "Defaults to the file's name" },
    language: { type: 'string', description: 'BCP 47 tag of the spoken language, if known' },
    source: { type: 'string', maxLength: 64, default: 'upload' },
  },
});
