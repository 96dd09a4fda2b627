import { Type, type Static } from 'typebox';
import { Nullable } from '../http/schemas.js';

export const Job = Type.Object({
  id: Type.String({ format: 'uuid' }),
  type: Type.String(),
  status: Type.Union([
    Type.Literal('queued'),
    Type.Literal('running'),
    Type.Literal('completed'),
    Type.Literal('failed'),
    Type.Literal('cancelled'),
  ]),
  progress: Type.Integer({ minimum: 0, maximum: 100 }),
  error: Nullable(Type.String()),
  error_code: Nullable(Type.String()),
  result: Nullable(Type.Record(Type.String(), Type.Unknown())),
  attempts: Type.Integer(),
  max_attempts: Type.Integer(),
  created_at: Type.String({ format: 'date-time' }),
  started_at: Nullable(Type.String({ format: 'date-time' })),
  finished_at: Nullable(Type.String({ format: 'date-time' })),
});
export type JobView = Static<typeof Job>;
