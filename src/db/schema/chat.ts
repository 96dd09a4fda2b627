import { boolean, integer, jsonb, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { users } from './accounts.js';
import { createdAt, updatedAt } from './columns.js';

export const llmUsage = pgTable('llm_usage', {
  id: uuid('id').primaryKey(),
  userId: uuid('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' }),
  purpose: text('purpose').notNull(),
  provider: text('provider').notNull(),
  model: text('model').notNull(),
  inputTokens: integer('input_tokens').notNull(),
  outputTokens: integer('output_tokens').notNull(),
  /** A reservation made before the call (src/chat/quota.ts), not yet settled to its real usage. */
  pending: boolean('pending').notNull().default(false),
  createdAt: createdAt(),
});

export interface Citation {
  segment_id: string;
  start: number | null;
  end: number | null;
  text: string;
  /** Answers across all transcripts (scope "all"): the recording the segment is in. */
  recording_id?: string;
}

export const chatSessions = pgTable('chat_sessions', {
  id: uuid('id').primaryKey(),
  userId: uuid('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' }),
  title: text('title').notNull(),
  // Composite foreign key (transcription_id, user_id) in SQL, ON DELETE SET NULL (transcription_id).
  transcriptionId: uuid('transcription_id'),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

export const chatMessages = pgTable('chat_messages', {
  id: uuid('id').primaryKey(),
  userId: uuid('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' }),
  // Composite foreign key (session_id, user_id) in SQL.
  sessionId: uuid('session_id').notNull(),
  role: text('role').notNull(),
  content: text('content').notNull(),
  provider: text('provider'),
  model: text('model'),
  inputTokens: integer('input_tokens'),
  outputTokens: integer('output_tokens'),
  latencyMs: integer('latency_ms'),
  citations: jsonb('citations').$type<Citation[]>(),
  /** Values replaced by placeholders before the provider saw the prompt, per kind; null when not redacted. */
  redactions: jsonb('redactions').$type<Partial<Record<string, number>>>(),
  createdAt: createdAt(),
});
