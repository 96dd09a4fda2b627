import {
  bigint,
  boolean,
  customType,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  unique,
  uuid,
} from 'drizzle-orm/pg-core';

/*
 * The tables as Drizzle sees them. The DDL itself lives in migrations/*.sql (RLS policies, roles and
 * generated columns are SQL's business); test/db/schema.test.ts checks that both agree.
 */

const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' });

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp('updated_at', { withTimezone: true }).notNull().defaultNow();

export const users = pgTable('users', {
  id: uuid('id').primaryKey(),
  email: text('email'),
  passwordHash: text('password_hash'),
  supabaseId: text('supabase_id'),
  role: text('role').notNull().default('user'),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

export const refreshTokens = pgTable('refresh_tokens', {
  id: uuid('id').primaryKey(),
  userId: uuid('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' }),
  familyId: uuid('family_id').notNull(),
  tokenHash: text('token_hash').notNull().unique(),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  usedAt: timestamp('used_at', { withTimezone: true }),
  revokedAt: timestamp('revoked_at', { withTimezone: true }),
  createdAt: createdAt(),
});

export const apiKeys = pgTable('api_keys', {
  id: uuid('id').primaryKey(),
  userId: uuid('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' }),
  name: text('name').notNull(),
  prefix: text('prefix').notNull(),
  keyHash: text('key_hash').notNull().unique(),
  expiresAt: timestamp('expires_at', { withTimezone: true }),
  lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
  revokedAt: timestamp('revoked_at', { withTimezone: true }),
  createdAt: createdAt(),
  /** What the key may do beyond acting as its owner (src/auth/scopes.ts); 0008. */
  scopes: text('scopes').array().notNull().default([]),
});

/** Log-in attempts per account (0008); the key is the SHA-256 of the e-mail. System role only. */
export const loginAttempts = pgTable('login_attempts', {
  accountKey: text('account_key').primaryKey(),
  failures: integer('failures').notNull().default(0),
  lockedUntil: timestamp('locked_until', { withTimezone: true }),
  updatedAt: updatedAt(),
});

export const recordings = pgTable(
  'recordings',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    title: text('title').notNull(),
    language: text('language'),
    source: text('source').notNull(),
    kind: text('kind').notNull(),
    originalText: text('original_text'),
    blobKey: text('blob_key'),
    mimeType: text('mime_type'),
    sizeBytes: bigint('size_bytes', { mode: 'number' }).notNull(),
    durationSeconds: doublePrecision('duration_seconds'),
    sha256: text('sha256').notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('recordings_user_id_id_idx').on(t.userId, t.id)],
);

export const transcriptions = pgTable('transcriptions', {
  id: uuid('id').primaryKey(),
  userId: uuid('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' }),
  // Composite foreign key (recording_id, user_id) in SQL: a child row always has its parent's owner.
  recordingId: uuid('recording_id').notNull(),
  engine: text('engine').notNull(),
  model: text('model'),
  language: text('language'),
  status: text('status').notNull(),
  progress: integer('progress').notNull().default(0),
  text: text('text'),
  error: text('error'),
  durationSeconds: doublePrecision('duration_seconds'),
  createdAt: createdAt(),
  startedAt: timestamp('started_at', { withTimezone: true }),
  completedAt: timestamp('completed_at', { withTimezone: true }),
  jobId: uuid('job_id'),
  prompt: text('prompt'),
  wordTimestamps: boolean('word_timestamps').notNull().default(false),
  errorCode: text('error_code'),
  /** Speech detection asked for (src/vad/settings.ts); null: the whole audio goes to the engine. */
  vad: jsonb('vad').$type<StoredVadSettings>(),
  /** Known speakers for a diarizing engine (0015): names paired with data-URL voice samples; null: none. */
  speakerHints: jsonb('speaker_hints').$type<StoredSpeakerHints>(),
  /** The current version (0013): 1 as the engine wrote it, one more per edit; the ETag's number. */
  version: integer('version').notNull().default(1),
});

/** SpeakerHints as stored (a copy, as for StoredVadSettings). */
export interface StoredSpeakerHints {
  names: string[];
  references: string[];
}

/** VadSettings as stored (a copy, so the schema imports nothing from the feature modules). */
export interface StoredVadSettings {
  threshold: number;
  prefixPaddingMs: number;
  silenceDurationMs: number;
}

export interface WordTiming {
  word: string;
  start: number;
  end: number;
  confidence?: number;
  /** True when an edit changed this word, so its times are interpolated, not the engine's. */
  edited?: boolean;
}

export const transcriptSegments = pgTable('transcript_segments', {
  id: uuid('id').primaryKey(),
  userId: uuid('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' }),
  // Composite foreign key (transcription_id, user_id) in SQL.
  transcriptionId: uuid('transcription_id').notNull(),
  index: integer('index').notNull(),
  start: doublePrecision('start_seconds'),
  end: doublePrecision('end_seconds'),
  text: text('text').notNull(),
  words: jsonb('words').$type<WordTiming[]>(),
  speaker: text('speaker'),
  /** Whisper's decoding figures as the engine reported them; null when it did not (0010). */
  avgLogprob: doublePrecision('avg_logprob'),
  compressionRatio: doublePrecision('compression_ratio'),
  noSpeechProb: doublePrecision('no_speech_prob'),
  temperature: doublePrecision('temperature'),
  /** The text-search configuration (e.g. 'spanish') the segment is indexed with. */
  searchConfig: text('search_config').notNull().default('simple'),
  // Generated by Postgres; never written by the application.
  searchVector: tsvector('search_vector'),
});

export interface StoredSummary {
  summary: string;
  key_points: { text: string; segments: number[] }[];
  action_items: { text: string; owner: string | null; segments: number[] }[];
  language: string | null;
  citations: Citation[];
}

/** One per transcription and provider/model (0014). */
export const transcriptSummaries = pgTable(
  'transcript_summaries',
  {
    id: uuid('id').primaryKey(),
    transcriptionId: uuid('transcription_id').notNull(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    transcriptHash: text('transcript_hash').notNull(),
    content: jsonb('content').$type<StoredSummary>().notNull(),
    provider: text('provider').notNull(),
    model: text('model').notNull(),
    inputTokens: integer('input_tokens').notNull(),
    outputTokens: integer('output_tokens').notNull(),
    latencyMs: integer('latency_ms').notNull(),
    /** Whether the provider was sent the transcript redacted (LLM_REDACT_PII, `redact`). */
    redacted: boolean('redacted').notNull().default(false),
    createdAt: createdAt(),
  },
  (t) => [unique('transcript_summaries_transcription_model_key').on(t.transcriptionId, t.provider, t.model)],
);

/** A segment as a version keeps it: the API's segment shape (src/transcription/edits). */
export interface VersionSegment {
  id: string;
  index: number;
  start: number | null;
  end: number | null;
  text: string;
  words: WordTiming[] | null;
  speaker: string | null;
  avg_logprob: number | null;
  compression_ratio: number | null;
  no_speech_prob: number | null;
  temperature: number | null;
}

/** One segment's change in a version: its fields before and after (absent fields did not change). */
export interface SegmentChange {
  segment_id: string;
  op: 'update' | 'insert' | 'delete';
  before?: Partial<Omit<VersionSegment, 'id' | 'words'>>;
  after?: Partial<Omit<VersionSegment, 'id' | 'words'>>;
}

export const transcriptionVersions = pgTable('transcription_versions', {
  id: uuid('id').primaryKey(),
  userId: uuid('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' }),
  // Composite foreign key (transcription_id, user_id) in SQL.
  transcriptionId: uuid('transcription_id').notNull(),
  version: integer('version').notNull(),
  action: text('action').notNull(),
  authorId: uuid('author_id'),
  revertedTo: integer('reverted_to'),
  changes: jsonb('changes').$type<SegmentChange[]>().notNull(),
  segments: jsonb('segments').$type<VersionSegment[]>().notNull(),
  createdAt: createdAt(),
});

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

/** A user's sensitive terms, redacted before any provider LLM_REDACT_PII covers (src/privacy). */
export const privacyTerms = pgTable('privacy_terms', {
  id: uuid('id').primaryKey(),
  userId: uuid('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' }),
  term: text('term').notNull(),
  createdAt: createdAt(),
});

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

export const schema = {
  users,
  refreshTokens,
  apiKeys,
  recordings,
  transcriptions,
  transcriptSegments,
  chatSessions,
  chatMessages,
  jobs,
  transcriptSummaries,
  llmUsage,
  loginAttempts,
  privacyTerms,
  transcriptionVersions,
};

/** Every table a user owns rows in; each has RLS enabled and forced (see migrations). */
export const USER_OWNED_TABLES = [
  'users',
  'refresh_tokens',
  'api_keys',
  'recordings',
  'transcriptions',
  'transcript_segments',
  'chat_sessions',
  'chat_messages',
  'jobs',
  'transcript_summaries',
  'llm_usage',
  'webhooks',
  'webhook_deliveries',
  'privacy_terms',
  'transcription_versions',
] as const;
