import { and, asc, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Static } from 'typebox';
import { queryRows, type AppDatabase, type Tx } from '../db/client.js';
import { newId } from '../db/ids.js';
import { chatMessages, chatSessions, type Citation } from '../db/schema.js';
import { withUser } from '../db/scope.js';
import { errors } from '../http/errors.js';
import { toPage } from '../http/pagination.js';
import type { TranscriptReader } from '../transcription/reader.js';
import { MESSAGE_OVERHEAD_TOKENS } from './grounding/tokens.js';
import type { LlmMessage, TokenUsage } from './providers/provider.js';
import type { RedactionCounts } from '../privacy/index.js';
import type { ChatMessage, ChatSession, ChatSessionWithMessages, ClientRole } from './schemas.js';

type SessionView = Static<typeof ChatSession>;
type MessageView = Static<typeof ChatMessage>;
export type SessionRow = typeof chatSessions.$inferSelect;
type MessageRow = typeof chatMessages.$inferSelect;

function toSessionView(row: SessionRow): SessionView {
  return {
    id: row.id,
    title: row.title,
    transcription_id: row.transcriptionId,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

function toMessageView(row: MessageRow): MessageView {
  return {
    id: row.id,
    session_id: row.sessionId,
    role: row.role as MessageView['role'],
    content: row.content,
    provider: row.provider,
    model: row.model,
    input_tokens: row.inputTokens,
    output_tokens: row.outputTokens,
    latency_ms: row.latencyMs,
    citations: row.citations,
    // Read back from JSON, the stored counts hold no undefined values.
    redactions: (row.redactions as Record<string, number> | null) ?? null,
    created_at: row.createdAt.toISOString(),
  };
}

/** A user's question, with the session it opens when it is the first. */
export interface QuestionWrite {
  userId: string;
  sessionId: string;
  messageId: string;
  content: string;
  /** Absent: the session exists and is touched. */
  newSession?: { title: string; transcriptionId: string | null };
}

/** A model's answer as stored. */
export interface AnswerWrite {
  id: string;
  userId: string;
  sessionId: string;
  content: string;
  provider: string;
  model: string;
  usage: TokenUsage;
  latencyMs: number;
  citations: Citation[];
  /** Counts by kind of the values the provider saw as placeholders; null when not redacted. */
  redactions: RedactionCounts | null;
}

/**
 * The one owner of `chat_sessions` and `chat_messages`: the routes' own calls open a transaction,
 * the `tx` forms run in the caller's (a completion that stores its question with a queued job, or
 * its answer with a job's completion).
 */
export class ChatService {
  constructor(
    private readonly db: AppDatabase,
    private readonly transcripts: TranscriptReader,
  ) {}

  createSession(userId: string, input: { title: string; transcription_id?: string }): Promise<SessionView> {
    return withUser(this.db, userId, async (tx) => {
      // Foreign keys ignore RLS, so another user's transcription must be rejected here, as "not found".
      if (input.transcription_id && !(await this.transcripts.exists(tx, input.transcription_id))) {
        throw errors.notFound('Transcription');
      }
      const [row] = await tx
        .insert(chatSessions)
        .values({
          id: newId(),
          userId,
          title: input.title.trim(),
          transcriptionId: input.transcription_id ?? null,
        })
        .returning();
      return toSessionView(row!);
    });
  }

  listSessions(userId: string, page: { limit: number; cursor?: string; transcription_id?: string }) {
    return withUser(this.db, userId, async (tx) => {
      const rows = await tx
        .select()
        .from(chatSessions)
        .where(
          and(
            page.cursor ? lt(chatSessions.id, page.cursor) : undefined,
            page.transcription_id ? eq(chatSessions.transcriptionId, page.transcription_id) : undefined,
          ),
        )
        .orderBy(desc(chatSessions.id))
        .limit(page.limit + 1);
      return toPage(rows, page.limit, toSessionView);
    });
  }

  async getSession(userId: string, id: string): Promise<Static<typeof ChatSessionWithMessages>> {
    return withUser(this.db, userId, async (tx) => {
      const [row] = await tx.select().from(chatSessions).where(eq(chatSessions.id, id));
      if (!row) throw errors.notFound('Chat session');
      const messages = await tx
        .select()
        .from(chatMessages)
        .where(eq(chatMessages.sessionId, id))
        .orderBy(asc(chatMessages.id));
      return { ...toSessionView(row), messages: messages.map(toMessageView) };
    });
  }

  async deleteSession(userId: string, id: string): Promise<void> {
    const deleted = await withUser(this.db, userId, (tx) =>
      tx.delete(chatSessions).where(eq(chatSessions.id, id)).returning({ id: chatSessions.id }),
    );
    if (deleted.length === 0) throw errors.notFound('Chat session');
  }

  async messagesById(userId: string, ids: string[]): Promise<MessageView[]> {
    const rows = await withUser(this.db, userId, (tx) =>
      tx.select().from(chatMessages).where(inArray(chatMessages.id, ids)).orderBy(asc(chatMessages.id)),
    );
    return rows.map(toMessageView);
  }

  addMessage(
    userId: string,
    sessionId: string,
    input: { content: string; role: Static<typeof ClientRole> },
  ): Promise<MessageView> {
    return withUser(this.db, userId, async (tx) => {
      if (!(await touch(tx, sessionId))) throw errors.notFound('Chat session');
      const [row] = await tx
        .insert(chatMessages)
        .values({ id: newId(), userId, sessionId, role: input.role, content: input.content })
        .returning();
      return toMessageView(row!);
    });
  }

  /** A session the caller can see, or undefined. */
  async findSession(tx: Tx, sessionId: string): Promise<SessionRow | undefined> {
    const [row] = await tx.select().from(chatSessions).where(eq(chatSessions.id, sessionId));
    return row;
  }

  /** Stores a question, opening its session or touching it (404 when it went away meanwhile). */
  async writeQuestion(tx: Tx, question: QuestionWrite): Promise<void> {
    const { userId, sessionId, newSession } = question;
    if (newSession) {
      await tx.insert(chatSessions).values({ id: sessionId, userId, ...newSession });
    } else if (!(await touch(tx, sessionId))) {
      throw errors.notFound('Chat session');
    }
    await tx.insert(chatMessages).values({ id: question.messageId, userId, sessionId, role: 'user', content: question.content });
  }

  async writeAnswer(tx: Tx, answer: AnswerWrite): Promise<void> {
    await tx.insert(chatMessages).values({
      id: answer.id,
      userId: answer.userId,
      sessionId: answer.sessionId,
      role: 'assistant',
      content: answer.content,
      provider: answer.provider,
      model: answer.model,
      inputTokens: answer.usage.inputTokens,
      outputTokens: answer.usage.outputTokens,
      latencyMs: Math.round(answer.latencyMs),
      citations: answer.citations,
      redactions: answer.redactions,
    });
  }

  /** A stored question's text and its session's transcript; undefined when either was deleted. */
  async storedQuestion(
    tx: Tx,
    sessionId: string,
    messageId: string,
  ): Promise<{ content: string; transcriptionId: string | null } | undefined> {
    const [row] = await tx
      .select({ content: chatMessages.content, transcriptionId: chatSessions.transcriptionId })
      .from(chatMessages)
      .innerJoin(chatSessions, eq(chatSessions.id, chatMessages.sessionId))
      .where(and(eq(chatMessages.id, messageId), eq(chatMessages.sessionId, sessionId)));
    return row;
  }

  /**
   * A session's earlier messages, oldest first, as the model is shown them. Only the newest that
   * could fit `budgetTokens` are read (each costs at least its overhead and a token per four
   * characters), so a session of any size costs one budget's worth of rows. Rows stored with role
   * `system` (clients could write them once) are the client's words: they go as user text.
   * `before`: only messages older than this one (the question an async job answers).
   */
  async history(tx: Tx, sessionId: string, budgetTokens: number, before?: string): Promise<LlmMessage[]> {
    const rows = await queryRows<{ role: string; content: string }>(
      tx,
      sql`select role, content from (
            select id, role, content,
                   sum(length(content) / 4 + ${MESSAGE_OVERHEAD_TOKENS}::int) over (order by id desc) as newer_and_this
            from chat_messages
            where session_id = ${sessionId}::uuid ${before ? sql`and id < ${before}::uuid` : sql.empty()}
          ) m
          where newer_and_this <= ${budgetTokens}::int
          order by id`,
    );
    return rows.map((row) => ({ role: row.role === 'assistant' ? 'assistant' : 'user', content: row.content }));
  }
}

/** Marks a session as just used; false when the caller cannot see it. */
async function touch(tx: Tx, sessionId: string): Promise<boolean> {
  const touched = await tx
    .update(chatSessions)
    .set({ updatedAt: sql`now()` })
    .where(eq(chatSessions.id, sessionId))
    .returning({ id: chatSessions.id });
  return touched.length > 0;
}
