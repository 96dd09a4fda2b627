import { Type } from 'typebox';
import { Nullable } from '../http/schemas.js';

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
});

export const Segment = Type.Object({
  id: Type.String({ format: 'uuid' }),
  index: Type.Integer(),
  start: Nullable(Type.Number({ description: 'Seconds from the start; null for text entries' })),
  end: Nullable(Type.Number()),
  text: Type.String(),
  words: Nullable(Type.Array(Word)),
  speaker: Nullable(Type.String()),
});

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
  duration_seconds: Nullable(Type.Number()),
  created_at: Type.String({ format: 'date-time' }),
  started_at: Nullable(Type.String({ format: 'date-time' })),
  completed_at: Nullable(Type.String({ format: 'date-time' })),
  segments: Type.Array(Segment),
});

export const TranscriptionParams = Type.Object({ transcription_id: Type.String({ format: 'uuid' }) });
