import { apiKeys, loginAttempts, refreshTokens, users } from './schema/accounts.js';
import { chatMessages, chatSessions, llmUsage } from './schema/chat.js';
import { jobs } from './schema/jobs.js';
import { privacyTerms } from './schema/privacy.js';
import { recordings } from './schema/recordings.js';
import { transcriptionVersions, transcriptions, transcriptSegments, transcriptSummaries } from './schema/transcriptions.js';

/*
 * The tables as Drizzle sees them, one file per feature under schema/; this module is the one every
 * other imports. The DDL itself lives in migrations/*.sql (RLS policies, roles and generated columns
 * are SQL's business); test/db/read.test.ts reads every table's columns through Drizzle, so a mismatch fails there.
 */

export * from './schema/accounts.js';
export * from './schema/chat.js';
export * from './schema/jobs.js';
export * from './schema/privacy.js';
export * from './schema/recordings.js';
export * from './schema/transcriptions.js';

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
