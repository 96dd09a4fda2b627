import assert from 'node:assert/strict';
import type { App } from '../../src/app.js';
import { queryRows, sql, type AppDatabase } from '../../src/db/client.js';
import { newId } from '../../src/db/ids.js';
import { USER_OWNED_TABLES } from '../../src/db/schema.js';
import { asSystem } from '../../src/db/scope.js';
import { bearer, createSession, createTextEntry, registerUser, uniqueEmail, type TestUser } from '../helpers/factory.js';

/*
 * What the row-level security suites share: two users with a row in every user-owned table,
 * statements that plant or change such rows, and a look at what is really stored past RLS.
 */

export type Table = (typeof USER_OWNED_TABLES)[number];

export const ownerColumn = (table: Table): string => (table === 'users' ? 'id' : 'user_id');

/** Postgres' "insufficient_privilege": what a WITH CHECK violation raises. */
const RLS_VIOLATION = '42501';

/** Thrown to roll a transaction back after looking at what a statement did. */
export class Rollback extends Error {}

/** The Postgres error behind a driver or Drizzle error, wherever in the cause chain it sits. */
function pgError(error: unknown): { code: string; message: string } | undefined {
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return e as { code: string; message: string };
  }
  return undefined;
}

export function assertRlsViolation(table: Table) {
  return (error: unknown): boolean => {
    const pg = pgError(error);
    assert.ok(pg, `expected a Postgres error, got ${String(error)}`);
    assert.equal(pg.code, RLS_VIOLATION, pg.message);
    assert.match(pg.message, new RegExp(`row-level security policy for table "${table}"`));
    return true;
  };
}

export function assertPermissionDenied(table: string) {
  return (error: unknown): boolean => {
    const pg = pgError(error);
    assert.ok(pg, `expected a Postgres error, got ${String(error)}`);
    assert.equal(pg.code, RLS_VIOLATION, pg.message);
    assert.match(pg.message, new RegExp(`permission denied for table ${table}`));
    return true;
  };
}

export interface Owner {
  user: TestUser;
  recordingId: string;
  transcriptionId: string;
  /** A transcription without a summary, for planting one (one per transcription, provider and model). */
  spareTranscriptionId: string;
  webhookId: string;
  sessionId: string;
  apiKeyId: string;
}

/** One row in every user-owned table, made through the API as the application makes them. */
export async function seedOwner(app: App, db: AppDatabase, label: string): Promise<Owner> {
  const user = await registerUser(app, label); // users + refresh_tokens
  const entry = await createTextEntry(app, user, { title: `${label}'s notes` }); // recordings, transcriptions, transcript_segments
  const edit = await app.inject({
    method: 'PATCH',
    url: `/api/v1/audio/transcription/${entry.transcription.id}/segments/${entry.transcription.segments[0]!.id}`,
    headers: bearer(user.accessToken),
    payload: { text: `${label} corrected` },
  });
  assert.equal(edit.statusCode, 200, edit.body); // transcription_versions
  const session = await createSession(app, user, { transcription_id: entry.transcription.id }); // chat_sessions
  const message = await app.inject({
    method: 'POST',
    url: `/api/v1/chat/sessions/${session.id}/messages`,
    headers: bearer(user.accessToken),
    payload: { content: `${label} asks` },
  });
  assert.equal(message.statusCode, 201, message.body); // chat_messages
  const key = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/api-keys',
    headers: bearer(user.accessToken),
    payload: { name: `${label}'s key` },
  });
  assert.equal(key.statusCode, 201, key.body); // api_keys
  await asSystem(db, 'test: a job as the queue would store it', (tx) =>
    tx.execute(sql`insert into jobs (id, user_id, type, payload, status)
                   values (${newId()}, ${user.userId}, 'transcription', '{}'::jsonb, 'completed')`),
  ); // jobs
  await asSystem(db, 'test: a summary and its usage as the chat service would store them', async (tx) => {
    await tx.execute(sql`insert into transcript_summaries (id, transcription_id, user_id, transcript_hash, content, provider,
                                                           model, input_tokens, output_tokens, latency_ms)
                         values (${newId()}, ${entry.transcription.id}, ${user.userId}, 'h', '{}'::jsonb, 'openai', 'm', 1, 1, 1)`);
    await tx.execute(sql`insert into llm_usage (id, user_id, purpose, provider, model, input_tokens, output_tokens)
                         values (${newId()}, ${user.userId}, 'chat', 'openai', 'm', 1, 1)`);
  }); // transcript_summaries, llm_usage
  const webhookId = newId();
  await asSystem(db, 'test: a webhook and a delivery as the webhook service would store them', async (tx) => {
    await tx.execute(sql`insert into webhooks (id, user_id, url, events, secret)
                         values (${webhookId}, ${user.userId}, 'https://hooks.example', '{chat.completed}', 'whsec_eA==')`);
    await tx.execute(sql`insert into webhook_deliveries (id, webhook_id, user_id, event, payload, message_id)
                         values (${newId()}, ${webhookId}, ${user.userId}, 'chat.completed', '{}'::jsonb, ${`msg_${newId()}`})`);
  }); // webhooks, webhook_deliveries
  const terms = await app.inject({
    method: 'PUT',
    url: '/api/v1/privacy/terms',
    headers: bearer(user.accessToken),
    payload: { terms: [`${label} Secret`] },
  });
  assert.equal(terms.statusCode, 200, terms.body); // privacy_terms
  return {
    webhookId,
    user,
    recordingId: entry.id,
    transcriptionId: entry.transcription.id,
    spareTranscriptionId: (await createTextEntry(app, user, { title: `${label}'s spare` })).transcription.id,
    sessionId: session.id,
    apiKeyId: key.json<{ id: string }>().id,
  };
}

/** An INSERT of a new row owned by `owner.user`, hanging off `owner`'s parent rows. */
export function insertFor(table: Table, owner: Owner): ReturnType<typeof sql> {
  const id = newId();
  const userId = owner.user.userId;
  switch (table) {
    case 'users':
      return sql`insert into users (id, email) values (${userId}, ${uniqueEmail('rls')})`;
    case 'refresh_tokens':
      return sql`insert into refresh_tokens (id, user_id, family_id, token_hash, expires_at)
                 values (${id}, ${userId}, ${newId()}, ${`hash-${id}`}, now() + interval '1 day')`;
    case 'api_keys':
      return sql`insert into api_keys (id, user_id, name, prefix, key_hash)
                 values (${id}, ${userId}, 'planted', 'trb_xx', ${`hash-${id}`})`;
    case 'recordings':
      return sql`insert into recordings (id, user_id, title, source, kind, size_bytes, sha256)
                 values (${id}, ${userId}, 'planted', 'upload', 'text', 0, 'x')`;
    case 'transcriptions':
      return sql`insert into transcriptions (id, user_id, recording_id, engine, status)
                 values (${id}, ${userId}, ${owner.recordingId}, 'text', 'queued')`;
    case 'transcript_segments':
      return sql`insert into transcript_segments (id, user_id, transcription_id, index, text)
                 values (${id}, ${userId}, ${owner.transcriptionId}, 999, 'planted')`;
    case 'chat_sessions':
      return sql`insert into chat_sessions (id, user_id, title) values (${id}, ${userId}, 'planted')`;
    case 'chat_messages':
      return sql`insert into chat_messages (id, user_id, session_id, role, content)
                 values (${id}, ${userId}, ${owner.sessionId}, 'user', 'planted')`;
    case 'jobs':
      return sql`insert into jobs (id, user_id, type, payload, status)
                 values (${id}, ${userId}, 'transcription', '{}'::jsonb, 'queued')`;
    case 'transcript_summaries':
      return sql`insert into transcript_summaries (id, transcription_id, user_id, transcript_hash, content, provider, model,
                                                   input_tokens, output_tokens, latency_ms)
                 values (${id}, ${owner.spareTranscriptionId}, ${userId}, 'planted', '{}'::jsonb, 'openai', 'm', 0, 0, 0)`;
    case 'webhooks':
      return sql`insert into webhooks (id, user_id, url, events, secret)
                 values (${id}, ${userId}, 'https://x.example', '{chat.completed}', 'whsec_eA==')`;
    case 'webhook_deliveries':
      return sql`insert into webhook_deliveries (id, webhook_id, user_id, event, payload, message_id)
                 values (${id}, ${owner.webhookId}, ${userId}, 'chat.completed', '{}'::jsonb, 'm')`;
    case 'llm_usage':
      return sql`insert into llm_usage (id, user_id, purpose, provider, model, input_tokens, output_tokens)
                 values (${id}, ${userId}, 'planted', 'openai', 'm', 0, 0)`;
    case 'privacy_terms':
      return sql`insert into privacy_terms (id, user_id, term) values (${id}, ${userId}, ${`planted ${id}`})`;
    case 'transcription_versions':
      return sql`insert into transcription_versions (id, user_id, transcription_id, version, action, changes, segments)
                 values (${id}, ${userId}, ${owner.transcriptionId}, 999, 'edit', '[]'::jsonb, '[]'::jsonb)`;
  }
}

/** A SET clause that really changes each table's rows. */
export const TOUCH: Record<Table, string> = {
  users: `email = 'hijacked-' || id || '@example.com'`,
  refresh_tokens: 'revoked_at = now()',
  api_keys: 'revoked_at = now()',
  recordings: `title = 'hijacked'`,
  transcriptions: `text = 'hijacked'`,
  transcript_segments: `text = 'hijacked'`,
  chat_sessions: `title = 'hijacked'`,
  chat_messages: `content = 'hijacked'`,
  jobs: `error = 'hijacked'`,
  transcript_summaries: `model = 'hijacked'`,
  llm_usage: `model = 'hijacked'`,
  webhooks: `url = 'https://hijacked.example'`,
  webhook_deliveries: `last_error = 'hijacked'`,
  privacy_terms: `term = 'hijacked ' || id`,
  transcription_versions: 'reverted_to = 999',
};

/** Every row of `table` owned by `userId`, seen past RLS. */
export function rowsOf(db: AppDatabase, table: Table, userId: string): Promise<Record<string, unknown>[]> {
  return asSystem(db, 'test: what is really stored', (tx) =>
    queryRows<Record<string, unknown>>(
      tx,
      sql`select * from ${sql.identifier(table)} where ${sql.identifier(ownerColumn(table))} = ${userId} order by id`,
    ),
  );
}
