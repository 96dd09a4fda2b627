/**
 * The prompt a chat answer is asked with, inside LLM_CONTEXT_TOKENS: our instructions, the
 * transcript (when the session has one), the earlier turns and the question, every message
 * counted. The instructions and the question are never cut: when they leave no room, the
 * request is refused (413 llm_context_exceeded). The transcript comes next, then as much history
 * as fits, newest turns first.
 */

import type { LlmConfig } from '../config.js';
import type { AppDatabase } from '../db/client.js';
import { withUser } from '../db/scope.js';
import { AppError } from '../http/errors.js';
import type { TranscriptForGrounding, TranscriptReader } from '../transcription/reader.js';
import { trimHistory } from './grounding/history.js';
import { buildGroundedMessages, groundedSystemPrompt } from './grounding/prompts.js';
import { estimateMessagesTokens } from './grounding/tokens.js';
import { formatSegments, selectContext, termOverlapRank, type GroundingSegment } from './grounding/transcript.js';
import type { LlmMessage } from './providers/provider.js';
import type { Redactor } from '../privacy/index.js';

const PLAIN_SYSTEM_PROMPT = 'You are a helpful assistant. Answer in the language of the question unless asked otherwise.';

/**
 * The part of what the instructions and the question leave that earlier turns may keep from the
 * transcript; without it a long transcript would crowd every follow-up's history out.
 */
const HISTORY_SHARE = 1 / 3;

/** Less room than this for the transcript cannot show one segment: the question is too long. */
const MIN_TRANSCRIPT_TOKENS = 32;

/** The transcript a prompt is grounded in, as the transcription feature reads it. */
export type Grounding = Pick<TranscriptForGrounding, 'transcriptionId' | 'title' | 'language' | 'segments'>;

export interface BuiltPrompt {
  messages: LlmMessage[];
  /** The transcript's segments, for resolving the answer's citations; empty without a transcript. */
  segments: GroundingSegment[];
  /** estimateMessagesTokens(messages): at most LLM_CONTEXT_TOKENS. */
  promptTokens: number;
}

export class PromptBuilder {
  constructor(
    private readonly db: AppDatabase,
    private readonly llm: LlmConfig,
    private readonly transcripts: TranscriptReader,
  ) {}

  /**
   * With a `redactor`, everything the provider will read (the title, the segments, the earlier
   * turns, the question) is redacted before it is measured, in that order, by the one redactor of
   * the request; `segments` stay as stored, so citations resolve to the real text.
   */
  async build(
    userId: string,
    question: string,
    history: readonly LlmMessage[],
    grounding: Grounding | null,
    redactor: Redactor | null = null,
  ): Promise<BuiltPrompt> {
    if (!redactor) return this.assemble(userId, question, question, history, grounding);
    const redact = (text: string) => redactor.redact(text);
    const sent = grounding && {
      ...grounding,
      title: redact(grounding.title),
      segments: grounding.segments.map((s) => ({ ...s, text: redact(s.text), speaker: s.speaker && redact(s.speaker) })),
    };
    const turns = history.map((m) => ({ ...m, content: redact(m.content) }));
    const built = await this.assemble(userId, redact(question), question, turns, sent);
    return { ...built, segments: grounding?.segments ?? [] };
  }

  /** `question` as sent; `rankBy`, as asked, only for ranking segments in the database (nothing leaves). */
  private async assemble(
    userId: string,
    question: string,
    rankBy: string,
    history: readonly LlmMessage[],
    grounding: Grounding | null,
  ): Promise<BuiltPrompt> {
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
      this.rankSegments(userId, grounding.transcriptionId, rankBy, q, segments),
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
    asked: string,
    sent: string,
    segments: readonly GroundingSegment[],
  ): Promise<Map<number, number>> {
    // The stored segments are indexed as written, so the question as asked ranks them.
    const ranks = await withUser(this.db, userId, (tx) => this.transcripts.rankSegments(tx, transcriptionId, asked));
    // Stop-word-only questions match nothing in Postgres; plain term overlap still finds something
    // (between the question and segments as sent: redacted alike, their placeholders match).
    return ranks.size > 0 ? ranks : termOverlapRank(sent, segments);
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
