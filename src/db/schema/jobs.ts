import { boolean, integer, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { users } from './accounts.js';
import { createdAt, updatedAt } from './columns.js';

export const jobs = pgTable('jobs', {
  id: uuid('id').primaryKey(),
  userId: uuid('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' }),
  type: text('type').notNull(),
  payloadVersion: integer('payload_version').notNull().default(1),
  payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
  status: text('status').notNull(),
  progress: integer('progress').notNull().default(0),
  result: jsonb('result').$type<Record<string, unknown>>(),
  error: text('error'),
  errorCode: text('error_code'),
  attempts: integer('attempts').notNull().default(0),
  maxAttempts: integer('max_attempts').notNull().default(3),
  runAfter: timestamp('run_after', { withTimezone: true }).notNull().defaultNow(),
  lockedBy: text('locked_by'),
  lockedUntil: timestamp('locked_until', { withTimezone: true }),
  cancelRequested: boolean('cancel_requested').notNull().default(false),
  /** Handed to the Redis queue (BullMQ mode); null while the row waits in the outbox. */
  dispatchedAt: timestamp('dispatched_at', { withTimezone: true }),
  createdAt: createdAt(),
  startedAt: timestamp('started_at', { withTimezone: true }),
  finishedAt: timestamp('finished_at', { withTimezone: true }),
  updatedAt: updatedAt(),
});
