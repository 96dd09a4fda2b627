import { and, asc, eq, gte, sql } from 'drizzle-orm';
import type { LlmConfig, LlmProviderName } from '../config.js';
import type { AppDatabase, Tx } from '../db/client.js';
import { queryRows } from '../db/client.js';
import { newId } from '../db/ids.js';
import { chatMessages, chatSessions, llmUsage, recordings, transcriptSegments, transcriptions, type Citation } from '../db/schema.js';
import { asSystem, withUser } from '../db/scope.js';
import { AppError, errors } from '../http/errors.js';
import { extractCitations } from './grounding/citations.js';
import { trimHistory } from './grounding/history.js';
import { buildGroundedMessages, groundedSystemPrompt } from './grounding/prompts.js';
import { estimateMessagesTokens } from './grounding/tokens.js';
import { formatSegments, selectContext, termOverlapRank, type GroundingSegment } from './grounding/transcript.js';
import type { ChatProviderLookup } from './providers/index.js';
import { enqueueEvent } from '../webhooks/service.js';
import { ProviderError, type ChatProvider, type LlmMessage, type TokenUsage } from './providers/provider.js';

export interface CompletionInput {
  message: string;
  transcription_id?: string;
  session_id?: string;
  provider?: LlmProviderName;
  model?: string;
}

export interface CompletionOutcome {
  content: string;
  citations: Citation[];
  usage: { input_tokens: number; output_tokens: number };
  provider: LlmProviderName;
  model: string;
  session_id: string;
  message_id: string;
}

export type CompletionStreamEvent = { type: 'delta'; text: string } | { type: 'done'; result: CompletionOutcome };

/** Everything a completion needs, gathered and checked before the provider is called. */
export interface PreparedCompletion {
  userId: string;
  sessionId: string;
  userMessageId: string;
  provider: ChatProvider;
  providerName: LlmProviderName;
  model: string;
  messages: LlmMessage[];
  segments: GroundingSegment[];
  /**
   * Writes the question (and a new session), once however often it is called. It runs alongside
   * the provider request, so the first token does not wait for it; an answer is recorded only
   * after it has succeeded, and its failure aborts the provider request.
   */
  store(): Promise<void>;
}

/** Where the model runs and what it may be asked, resolved from a request and the config. */
export interface ModelChoice {
  provider: ChatProvider;
  providerName: LlmProviderName;
  model: string;
}

const VARIABLES = 'set OPENAI_API_KEY (or OPENAI_BASE_URL for Ollama, vLLM, LM Studio) or ANTHROPIC_API_KEY, and optionally LLM_PROVIDER / LLM_MODEL';

/** Provider failures as the user sees them: the provider's fault is 502, its silence 504. */
export function providerFailure(error: unknown): unknown {
  if (!(error instanceof ProviderError)) return error;
  switch (error.kind) {
    case 'timeout':
      return new AppError('llm_timeout', `The ${error.provider} model did not answer in time; try again`);
    case 'transient':
      return new AppError('llm_unavailable', `The ${error.provider} model is unavailable right now (${error.message}); try again shortly`);
    case 'permanent':
      return new AppError('llm_rejected', `The ${error.provider} model rejected the request: ${error.message}`);
  }
}

function secondsUntilUtcMidnight(now = new Date()): number {
  const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  return Math.max(1, Math.ceil((midnight - now.getTime()) / 1000));
}

export class CompletionService {
  constructor(
    private readonly db: AppDatabase,
    private readonly llm: LlmConfig,
    private readonly providers: ChatProviderLookup,
  ) {}

  /** Whether a default provider is set up, so session messages get answers unless told otherwise. */
  configured(): boolean {
    return this.llm.provider !== null && this.providers(this.llm.provider) !== null;
  }

  /** The provider and model for a request: the default, or an allow-listed provider:model pair. */
  chooseModel(provider?: LlmProviderName, model?: string): ModelChoice {
    const providerName = provider ?? this.llm.provider;
    if (!providerName) {
      throw new AppError('llm_not_configured', `No LLM provider is configured: ${VARIABLES}`);
    }
    const chosenModel = model ?? (providerName === this.llm.provider ? this.llm.model : undefined);
    if (!chosenModel) {
      throw errors.validation(`Name the model to use with provider ${providerName}`, [{ field: 'model', message: 'is required with this provider' }]);
    }
    const isDefault = providerName === this.llm.provider && chosenModel === this.llm.model;
    if (!isDefault && !this.llm.allowedModels.includes(`${providerName}:${chosenModel}`)) {
      throw new AppError(
        'model_not_allowed',
        `${providerName}:${chosenModel} is not enabled here; allowed: ${[`${this.llm.provider}:${this.llm.model}`, ...this.llm.allowedModels].join(', ')} (LLM_ALLOWED_MODELS)`,
      );
    }
    const instance = this.providers(providerName);
    if (!instance) {
      throw new AppError('llm_not_configured', `The ${providerName} provider has no API key or base URL: ${VARIABLES}`);
    }
    return { provider: instance, providerName, model: chosenModel };
  }

  /** 429 with Retry-After when the user's tokens for today (UTC) are spent. */
  async assertWithinDailyLimit(tx: Tx, userId: string): Promise<void> {
    const limit = this.llm.dailyTokenLimit;
    if (limit <= 0) return;
    const since = new Date();
    since.setUTCHours(0, 0, 0, 0);
    const [row] = await tx
      .select({ spent: sql<string>`coalesce(sum(${llmUsage.inputTokens} + ${llmUsage.outputTokens}), 0)` })
      .from(llmUsage)
      .where(and(eq(llmUsage.userId, userId), gte(llmUsage.createdAt, since)));
    const spent = Number(row?.spent ?? 0);
    if (spent >= limit) {
      const retry = secondsUntilUtcMidnight();
      throw new AppError(
        'llm_quota_exceeded',
        `Today's LLM allowance of ${limit} tokens is used up (${spent} spent); it renews at 00:00 UTC`,
        undefined,
        { 'retry-after': String(retry) },
      );
    }
  }

  /**
   * Checks everything and stores the user's message (in a new session when none is given), then
   * builds the grounded prompt. The provider is not called yet.
   */
  async prepare(userId: string, input: CompletionInput): Promise<PreparedCompletion> {
    const choice = this.chooseModel(input.provider, input.model);
    const nothingToRead = this.llm.dailyTokenLimit <= 0 && !input.session_id && !input.transcription_id;
    // A fresh question without a transcript needs no read: skip the round trips of a transaction.
    const read = nothingToRead
      ? { session: undefined, transcriptionId: null, grounding: null, history: [] as LlmMessage[] }
      : await withUser(this.db, userId, async (tx) => {
      await this.assertWithinDailyLimit(tx, userId);
      let session: typeof chatSessions.$inferSelect | undefined;
      if (input.session_id) {
        [session] = await tx.select().from(chatSessions).where(eq(chatSessions.id, input.session_id));
        if (!session) throw errors.notFound('Chat session');
      }
      const transcriptionId = input.transcription_id ?? session?.transcriptionId ?? null;
      const grounding = transcriptionId ? await this.loadTranscript(tx, transcriptionId) : null;
      const history = session
        ? await tx
            .select({ role: chatMessages.role, content: chatMessages.content })
            .from(chatMessages)
            .where(eq(chatMessages.sessionId, session.id))
            .orderBy(asc(chatMessages.id))
        : [];
      return { session, transcriptionId, grounding, history: history as LlmMessage[] };
    });
    const sessionId = read.session?.id ?? newId();
    const userMessageId = newId();
    let stored: Promise<void> | undefined;
    const store = () =>
      (stored ??= withUser(this.db, userId, async (tx) => {
        if (!read.session) {
          const title = input.message.trim().slice(0, 80) || 'New chat';
          await tx.insert(chatSessions).values({ id: sessionId, userId, title, transcriptionId: read.transcriptionId });
        } else {
          await tx.update(chatSessions).set({ updatedAt: sql`now()` }).where(eq(chatSessions.id, sessionId));
        }
        await tx.insert(chatMessages).values({ id: userMessageId, userId, sessionId, role: 'user', content: input.message });
      }));
    const messages = await this.buildMessages(userId, input.message, read.history, read.grounding);
    return {
      userId,
      sessionId,
      userMessageId,
      provider: choice.provider,
      providerName: choice.providerName,
      model: choice.model,
      messages: messages.messages,
      segments: messages.segments,
      store,
    };
  }

  async complete(prepared: PreparedCompletion, signal: AbortSignal): Promise<CompletionOutcome> {
    const started = performance.now();
    const storing = new AbortController();
    const answer = prepared.provider.complete({
      model: prepared.model,
      messages: prepared.messages,
      maxTokens: this.llm.maxOutputTokens,
      signal: AbortSignal.any([signal, storing.signal]),
    });
    const stored = storeAlongside(prepared, storing);
    let result;
    try {
      result = await answer;
    } catch (error) {
      await stored;
      throw providerFailure(error);
    }
    await stored;
    return this.record(prepared, result.content, result.usage, result.model, performance.now() - started);
  }

  /** Deltas as the provider sends them, then the stored answer with its citations and usage. */
  async *stream(prepared: PreparedCompletion, signal: AbortSignal): AsyncGenerator<CompletionStreamEvent> {
    const started = performance.now();
    const storing = new AbortController();
    // Written while the provider thinks; measured faster than writing after the first token.
    const stored = storeAlongside(prepared, storing);
    let content = '';
    try {
      for await (const event of prepared.provider.stream({
        model: prepared.model,
        messages: prepared.messages,
        maxTokens: this.llm.maxOutputTokens,
        signal: AbortSignal.any([signal, storing.signal]),
      })) {
        if (event.type === 'delta') {
          content += event.text;
          yield event;
        } else {
          await stored;
          yield { type: 'done', result: await this.record(prepared, content, event.usage, event.model, performance.now() - started) };
        }
      }
    } catch (error) {
      await stored;
      throw providerFailure(error);
    }
  }

  /** Stores the answer (only citations that exist in the transcript) and its token usage. */
  async record(
    prepared: PreparedCompletion,
    answer: string,
    usage: TokenUsage,
    model: string,
    latencyMs: number,
    tx?: Tx,
  ): Promise<CompletionOutcome> {
    const { content, citations } = extractCitations(answer, prepared.segments);
    const messageId = newId();
    const write = async (t: Tx) => {
      await t.insert(chatMessages).values({
        id: messageId,
        userId: prepared.userId,
        sessionId: prepared.sessionId,
        role: 'assistant',
        content,
        provider: prepared.providerName,
        model,
        inputTokens: usage.inputTokens,
        outputTokens: usage.outputTokens,
        latencyMs: Math.round(latencyMs),
        citations,
      });
      await recordUsage(t, prepared.userId, 'chat', prepared.providerName, model, usage);
      await enqueueEvent(t, prepared.userId, 'chat.completed', { session_id: prepared.sessionId, message_id: messageId });
    };
    if (tx) await write(tx);
    else await withUser(this.db, prepared.userId, write);
    return {
      content,
      citations,
      usage: { input_tokens: usage.inputTokens, output_tokens: usage.outputTokens },
      provider: prepared.providerName,
      model,
      session_id: prepared.sessionId,
      message_id: messageId,
    };
  }

  /**
   * Rebuilds a prepared completion from what is stored (for the async job): the session's
   * messages up to and including the user's, and its transcript.
   */
  async reload(userId: string, sessionId: string, userMessageId: string, choice: { provider?: LlmProviderName; model?: string }) {
    const resolved = this.chooseModel(choice.provider, choice.model);
    const stored = await asSystem(this.db, 'an async chat job reloads its session', async (tx) => {
      const [session] = await tx.select().from(chatSessions).where(and(eq(chatSessions.id, sessionId), eq(chatSessions.userId, userId)));
      if (!session) return null;
      const all = await tx
        .select({ id: chatMessages.id, role: chatMessages.role, content: chatMessages.content })
        .from(chatMessages)
        .where(eq(chatMessages.sessionId, sessionId))
        .orderBy(asc(chatMessages.id));
      const at = all.findIndex((m) => m.id === userMessageId);
      if (at < 0) return null;
      const grounding = session.transcriptionId ? await this.loadTranscript(tx, session.transcriptionId).catch(() => null) : null;
      return { question: all[at]!.content, history: all.slice(0, at) as LlmMessage[], grounding };
    });
    if (!stored) return null;
    const built = await this.buildMessages(userId, stored.question, stored.history, stored.grounding);
    return {
      userId,
      sessionId,
      userMessageId,
      ...resolved,
      messages: built.messages,
      segments: built.segments,
      // The question was stored when the job was queued.
      store: () => Promise.resolve(),
    };
  }

  private async loadTranscript(tx: Tx, transcriptionId: string) {
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

  private async buildMessages(
    userId: string,
    question: string,
    history: LlmMessage[],
    grounding: { transcriptionId: string; title: string; language: string | null; segments: GroundingSegment[] } | null,
  ): Promise<{ messages: LlmMessage[]; segments: GroundingSegment[] }> {
    const budget = this.llm.contextTokens;
    if (!grounding) {
      const system: LlmMessage = {
        role: 'system',
        content: 'You are a helpful assistant. Answer in the language of the question unless asked otherwise.',
      };
      return { messages: trimHistory([system, ...history, { role: 'user', content: question }], budget), segments: [] };
    }
    const context = await selectContext(grounding.segments, question, budget, (q, segments) =>
      this.rankSegments(userId, grounding.transcriptionId, q, segments),
    );
    const system = groundedSystemPrompt({ title: grounding.title, language: grounding.language, mode: context.mode });
    const base = buildGroundedMessages({ system, transcriptBlock: formatSegments(context.segments), history: [], question });
    // History gets what the transcript and question leave of the budget, newest turns first.
    const room = Math.max(0, budget - estimateMessagesTokens(base));
    const kept = trimHistory(history, room);
    return {
      messages: buildGroundedMessages({ system, transcriptBlock: formatSegments(context.segments), history: kept, question }),
      segments: grounding.segments,
    };
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

/**
 * Starts storing the question; if that fails, the provider request is aborted (nobody could get
 * the answer) and the returned promise rejects with the storing error.
 */
function storeAlongside(prepared: PreparedCompletion, storing: AbortController): Promise<void> {
  const stored = prepared.store();
  stored.catch((error: unknown) => storing.abort(error));
  return stored;
}

export async function recordUsage(
  tx: Tx,
  userId: string,
  purpose: string,
  provider: LlmProviderName,
  model: string,
  usage: TokenUsage,
): Promise<void> {
  await tx.insert(llmUsage).values({
    id: newId(),
    userId,
    purpose,
    provider,
    model,
    inputTokens: usage.inputTokens,
    outputTokens: usage.outputTokens,
  });
}

