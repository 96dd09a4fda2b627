/**
 * The prompt a chat answer is asked with, inside LLM_CONTEXT_TOKENS: our instructions, the
 * transcript (when the session has one), the earlier turns and the question, every message
 * counted. The instructions and the question are never cut: when they leave no room, the
 * request is refused (413 llm_context_exceeded). The transcript comes next, then as much history
 * as fits, newest turns first.
 */

import { asc, eq, sql } from 'drizzle-orm';
import type { LlmConfig } from '../config.js';
import { queryRows, type AppDatabase, type Tx } from '../db/client.js';
import { recordings, transcriptSegments, transcriptions } from '../db/schema.js';
import { withUser } from '../db/scope.js';
import { AppError, errors } from '../http/errors.js';
import { trimHistory } from './grounding/history.js';
import { buildGroundedMessages, groundedSystemPrompt } from './grounding/prompts.js';
import { estimateMessagesTokens, MESSAGE_OVERHEAD_TOKENS } from './grounding/tokens.js';
import { formatSegments, selectContext, termOverlapRank, type GroundingSegment } from './grounding/transcript.js';
import type { LlmMessage } from './providers/provider.js';

const PLAIN_SYSTEM_PROMPT = 'You are a helpful assistant. Answer in the language of the question unless asked otherwise.';

/**
 * The part of what the instructions and the question leave that earlier turns may keep from the
 * transcript; without it a long transcript would crowd every follow-up's history out.
 */
const HISTORY_SHARE = 1 / 3;

/** Less room than this for the transcript cannot show one segment: the question is too long. */
const MIN_TRANSCRIPT_TOKENS = 32;

export interface Grounding {
  transcriptionId: string;
  title: string;
  language: string | null;
  segments: GroundingSegment[];
}

export interface BuiltPrompt {
  messages: LlmMessage[];
  /** The transcript's segments, for resolving the answer's citations; empty without a transcript. */
  segments: GroundingSegment[];
  /** estimateMessagesTokens(messages): at most LLM_CONTEXT_TOKENS. */
  promptTokens: number;
}

/** A transcript's segments as grounding needs them, in order. */
export function groundingSegments(tx: Tx, transcriptionId: string): Promise<GroundingSegment[]> {
  return tx
    .select({
      id: transcriptSegments.id,
      index: transcriptSegments.index,
      start: transcriptSegments.start,
      end: transcriptSegments.end,
      text: transcriptSegments.text,
    })
    .from(transcriptSegments)
    .where(eq(transcriptSegments.transcriptionId, transcriptionId))
    .orderBy(asc(transcriptSegments.index));
}

export class PromptBuilder {
  constructor(
    private readonly db: AppDatabase,
    private readonly llm: LlmConfig,
  ) {}

  /**
   * A session's earlier messages, oldest first, as the model is shown them. Only the newest that
   * could fit the budget are read (each costs at least its overhead and a token per four
   * characters), so a session of any size costs one budget's worth of rows. Rows stored with role
   * `system` (clients could write them once) are the client's words: they go as user text.
   * `before`: only messages older than this one (the question an async job answers).
   */
  async loadHistory(tx: Tx, sessionId: string, before?: string): Promise<LlmMessage[]> {
    const rows = await queryRows<{ role: string; content: string }>(
      tx,
      sql`select role, content from (
            select id, role, content,
                   sum(length(content) / 4 + ${MESSAGE_OVERHEAD_TOKENS}::int) over (order by id desc) as newer_and_this
            from chat_messages
            where session_id = ${sessionId}::uuid ${before ? sql`and id < ${before}::uuid` : sql.empty()}
          ) m
          where newer_and_this <= ${this.llm.contextTokens}::int
          order by id`,
    );
    return rows.map((row) => ({ role: row.role === 'assistant' ? 'assistant' : 'user', content: row.content }));
  }

  /** A completed transcript and its recording's title; 404 when invisible, 409 when not done. */
  async loadTranscript(tx: Tx, transcriptionId: string): Promise<Grounding> {
    const [row] = await tx
      .select({ id: transcriptions.id, status: transcriptions.status, language: transcriptions.language, title: recordings.title })
      .from(transcriptions)
      .innerJoin(recordings, eq(recordings.id, transcriptions.recordingId))
      .where(eq(transcriptions.id, transcriptionId));
    if (!row) throw errors.notFound('Transcription');
    if (row.status !== 'completed') {
      throw new AppError('transcription_not_ready', `The transcription is ${row.status}; ask again once it is completed`);
    }
    const segments = await groundingSegments(tx, transcriptionId);
    return { transcriptionId, title: row.title, language: row.language, segments };
  }

  async build(userId: string, question: string, history: readonly LlmMessage[], grounding: Grounding | null): Promise<BuiltPrompt> {
    const budget = this.llm.contextTokens;
    const last: LlmMessage = { role: 'user', content: question };
    if (!grounding) {
      const system: LlmMessage = { role: 'system', content: PLAIN_SYSTEM_PROMPT };
      const fixed = estimateMessagesTokens([system, last]);
      if (fixed > budget) throw contextExceeded(last, fixed, budget, 'the instructions');
      return this.finish([system, ...trimHistory(history, budget - fixed), last], [], budget);
    }

    // Measured with the longer (excerpts) instructions and an empty transcript: an upper bound.
    const header = { title: grounding.title, language: grounding.language };
    const fixed = estimateMessagesTokens(
      buildGroundedMessages({ system: groundedSystemPrompt({ ...header, mode: 'retrieved' }), transcriptBlock: '', history: [], question }),
    );
    const available = budget - fixed;
    if (available < MIN_TRANSCRIPT_TOKENS) {
      throw contextExceeded(last, fixed + MIN_TRANSCRIPT_TOKENS, budget, 'the instructions and a passage of the transcript');
    }
    const historyShare = Math.min(estimateMessagesTokens(history), Math.floor(available * HISTORY_SHARE));
    const context = await selectContext(grounding.segments, question, available - historyShare, (q, segments) =>
      this.rankSegments(userId, grounding.transcriptionId, q, segments),
    );
    const system = groundedSystemPrompt({ ...header, mode: context.mode });
    const transcriptBlock = formatSegments(context.segments);
    const base = buildGroundedMessages({ system, transcriptBlock, history: [], question });
    const kept = trimHistory(history, budget - estimateMessagesTokens(base));
    return this.finish(buildGroundedMessages({ system, transcriptBlock, history: kept, question }), grounding.segments, budget);
  }

  /** The budget is a promise to the operator: a prompt over it is refused, never sent. */
  private finish(messages: LlmMessage[], segments: GroundingSegment[], budget: number): BuiltPrompt {
    const promptTokens = estimateMessagesTokens(messages);
    const question = messages.at(-1) as LlmMessage;
    if (promptTokens > budget) throw contextExceeded(question, promptTokens, budget, 'the rest of the prompt');
    return { messages, segments, promptTokens };
  }

  /** Postgres full-text ranking of a transcript's segments for a question (any term may match). */
  private async rankSegments(
    userId: string,
    transcriptionId: string,
    question: string,
    segments: readonly GroundingSegment[],
  ): Promise<Map<number, number>> {
    const rows = await withUser(this.db, userId, (tx) =>
      queryRows<{ index: number; rank: number }>(
        tx,
        sql`select s.index, ts_rank(s.search_vector, q)::float8 as rank
            from transcript_segments s
            cross join lateral (select nullif(replace(plainto_tsquery(s.search_config, ${question})::text, '&', '|'), '')::tsquery as q) t
            where s.transcription_id = ${transcriptionId} and q is not null and s.search_vector @@ q`,
      ),
    );
    const ranks = new Map(rows.map((r) => [r.index, Number(r.rank)]));
    // Stop-word-only questions match nothing in Postgres; plain term overlap still finds something.
    return ranks.size > 0 ? ranks : termOverlapRank(question, segments);
  }
}

/** 413: the question, with what must go along with it, does not fit LLM_CONTEXT_TOKENS. */
function contextExceeded(question: LlmMessage, needed: number, budget: number, withWhat: string): AppError {
  const own = estimateMessagesTokens([question]);
  return new AppError(
    'llm_context_exceeded',
    `The message is about ${own} tokens; with ${withWhat} the prompt needs about ${needed}, over this server's ` +
      `budget of ${budget} (LLM_CONTEXT_TOKENS). Send a shorter message.`,
  );
}
