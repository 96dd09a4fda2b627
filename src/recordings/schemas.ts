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
  transcription: Transcription,
});
