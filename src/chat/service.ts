import { asc, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Static } from 'typebox';
import type { AppDatabase } from '../db/client.js';
import { newId } from '../db/ids.js';
import { chatMessages, chatSessions } from '../db/schema.js';
import { withUser } from '../db/scope.js';
import { errors } from '../http/errors.js';
import { toPage } from '../http/pagination.js';
import type { TranscriptionService } from '../transcription/service.js';
import type { ChatMessage, ChatSession, ChatSessionWithMessages, ClientRole } from './schemas.js';

type SessionView = Static<typeof ChatSession>;
type MessageView = Static<typeof ChatMessage>;
type SessionRow = typeof chatSessions.$inferSelect;
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
    created_at: row.createdAt.toISOString(),
  };
}

export class ChatService {
  constructor(
    private readonly db: AppDatabase,
    private readonly transcriptions: TranscriptionService,
  ) {}

  createSession(userId: string, input: { title: string; transcription_id?: string }): Promise<SessionView> {
    return withUser(this.db, userId, async (tx) => {
      // Foreign keys ignore RLS, so another user's transcription must be rejected here, as "not found".
      if (input.transcription_id && !(await this.transcriptions.exists(tx, input.transcription_id))) {
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

  listSessions(userId: string, page: { limit: number; cursor?: string }) {
    return withUser(this.db, userId, async (tx) => {
      const rows = await tx
        .select()
        .from(chatSessions)
        .where(page.cursor ? lt(chatSessions.id, page.cursor) : undefined)
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
      const touched = await tx
        .update(chatSessions)
        .set({ updatedAt: sql`now()` })
        .where(eq(chatSessions.id, sessionId))
        .returning({ id: chatSessions.id });
      if (touched.length === 0) throw errors.notFound('Chat session');
      const [row] = await tx
        .insert(chatMessages)
        .values({ id: newId(), userId, sessionId, role: input.role, content: input.content })
        .returning();
      return toMessageView(row!);
    });
  }
}
