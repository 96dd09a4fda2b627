import { and, eq, sql } from 'drizzle-orm';
import type { LlmConfig, LlmProviderName } from '../config.js';
import type { AppDatabase, Tx } from '../db/client.js';
import { newId } from '../db/ids.js';
import { chatMessages, chatSessions, type Citation } from '../db/schema.js';
import { asSystem, withUser } from '../db/scope.js';
import { errors } from '../http/errors.js';
import { extractCitations } from './grounding/citations.js';
import type { GroundingSegment } from './grounding/transcript.js';
import { PromptBuilder, type Grounding } from './prompt-builder.js';
import type { ChatProviderLookup } from './providers/index.js';
import { enqueueEvent } from '../webhooks/service.js';
import { ProviderError, type ChatProvider, type CompletionResult, type LlmMessage, type TokenUsage } from './providers/provider.js';
import { providerAppError } from './providers/errors.js';
import { chooseModel, type ModelChoice } from './model-choice.js';
import { TokenQuota, withinReservation, type Reservation } from './quota.js';

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

/** A question with its prompt, gathered and checked; nothing reserved, the provider not called. */
export interface DraftCompletion {
  userId: string;
  sessionId: string;
  userMessageId: string;
  provider: ChatProvider;
  providerName: LlmProviderName;
  model: string;
  /** Within LLM_CONTEXT_TOKENS (see PromptBuilder). */
  messages: LlmMessage[];
  segments: GroundingSegment[];
  promptTokens: number;
  /**
   * Writes the question (and a new session), once however often it is called. It runs alongside
   * the provider request, so the first token does not wait for it; an answer is recorded only
   * after it has succeeded, and its failure aborts the provider request.
   */
  store(): Promise<void>;
}

/** A draft whose cost is reserved against the user's daily allowance: ready for the provider. */
export interface PreparedCompletion extends DraftCompletion {
  reservation: Reservation;
}

/** Provider failures as the user sees them: the failure's code from the error list, with its Retry-After. */
export function providerFailure(error: unknown): unknown {
  return error instanceof ProviderError ? providerAppError(error) : error;
}

export class CompletionService {
  readonly quota: TokenQuota;
  private readonly prompts: PromptBuilder;

  constructor(
    private readonly db: AppDatabase,
    private readonly llm: LlmConfig,
    private readonly providers: ChatProviderLookup,
  ) {
    this.quota = new TokenQuota(db, llm);
    this.prompts = new PromptBuilder(db, llm);
  }

  /** Whether a default provider is set up, so session messages get answers unless told otherwise. */
  configured(): boolean {
    return this.llm.provider !== null && this.providers(this.llm.provider) !== null;
  }

  /** The provider and model for a request: the default, or an allow-listed provider:model pair. */
  chooseModel(provider?: LlmProviderName, model?: string): ModelChoice {
    return chooseModel(this.llm, this.providers, provider, model);
  }

  /** A question to answer now: checked, its prompt built and its cost reserved (413, 429 otherwise). */
  async prepare(userId: string, input: CompletionInput): Promise<PreparedCompletion> {
    return this.reserve(await this.draft(userId, input));
  }

  /**
   * Checks everything (the session, the transcript, the prompt against LLM_CONTEXT_TOKENS, the
   * day's allowance) and builds the grounded prompt; the question is stored by `store()`. A queued
   * question stops here: its job reserves when it runs.
   */
  async draft(userId: string, input: CompletionInput): Promise<DraftCompletion> {
    const choice = this.chooseModel(input.provider, input.model);
    const nothingToRead = !this.quota.limited && !input.session_id && !input.transcription_id;
    // A fresh question without a transcript or a limit needs no read: skip the round trips of a transaction.
    const read = nothingToRead
      ? { spent: 0, session: undefined, transcriptionId: null, grounding: null, history: [] as LlmMessage[] }
      : await withUser(this.db, userId, async (tx) => {
          const spent = this.quota.limited ? await this.quota.spentToday(tx, userId) : 0;
          // A day already spent is refused before the transcript is read for nothing.
          this.quota.allowance(spent, 0);
          let session: typeof chatSessions.$inferSelect | undefined;
          if (input.session_id) {
            [session] = await tx.select().from(chatSessions).where(eq(chatSessions.id, input.session_id));
            if (!session) throw errors.notFound('Chat session');
          }
          const transcriptionId = input.transcription_id ?? session?.transcriptionId ?? null;
          const grounding: Grounding | null = transcriptionId ? await this.prompts.loadTranscript(tx, transcriptionId) : null;
          const history = session ? await this.prompts.loadHistory(tx, session.id) : [];
          return { spent, session, transcriptionId, grounding, history };
        });
    const built = await this.prompts.build(userId, input.message, read.history, read.grounding);
    this.quota.allowance(read.spent, built.promptTokens);
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
    return { userId, sessionId, userMessageId, ...choice, ...built, store };
  }

  /** Reserves the draft's prompt and longest answer against the user's allowance for today (429 when it does not fit). */
  async reserve(draft: DraftCompletion): Promise<PreparedCompletion> {
    const reservation = await this.quota.reserve({
      userId: draft.userId,
      purpose: 'chat',
      provider: draft.providerName,
      model: draft.model,
      promptTokens: draft.promptTokens,
    });
    return { ...draft, reservation };
  }

  /**
   * One provider call for a prepared completion, answering in at most what was reserved. `signal`
   * aborts it; `client` (default: the same) is whoever waits for the answer, whose going away
   * means the call is charged rather than given back. The answer is not recorded here.
   */
  ask(prepared: PreparedCompletion, signal: AbortSignal, client: AbortSignal = signal): Promise<CompletionResult> {
    return withinReservation(prepared.reservation, client, (maxTokens) =>
      prepared.provider.complete({ model: prepared.model, messages: prepared.messages, maxTokens, signal }),
    ).catch((error: unknown) => {
      throw providerFailure(error);
    });
  }

  async complete(prepared: PreparedCompletion, signal: AbortSignal): Promise<CompletionOutcome> {
    const started = performance.now();
    const storing = new AbortController();
    const answer = this.ask(prepared, AbortSignal.any([signal, storing.signal]), signal);
    const stored = storeAlongside(prepared, storing);
    let result;
    try {
      result = await answer;
    } catch (error) {
      await stored;
      throw error;
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
    let answered = false;
    try {
      for await (const event of prepared.provider.stream({
        model: prepared.model,
        messages: prepared.messages,
        maxTokens: prepared.reservation.maxOutputTokens,
        signal: AbortSignal.any([signal, storing.signal]),
      })) {
        if (event.type === 'delta') {
          content += event.text;
          yield event;
        } else {
          answered = true;
          await stored;
          yield { type: 'done', result: await this.record(prepared, content, event.usage, event.model, performance.now() - started) };
        }
      }
    } catch (error) {
      await stored;
      throw providerFailure(error);
    } finally {
      // Failed, cut short by the client, or stopped by the consumer: charge what was streamed.
      if (!answered) await prepared.reservation.abandon({ interrupted: signal.aborted, received: content });
    }
  }

  /** Stores the answer (only citations that exist in the transcript) and settles its reservation to the real usage. */
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
      await prepared.reservation.settle(usage, model, t);
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
   * Rebuilds a queued question's draft from what is stored (for the async job): the session's
   * messages before the user's, the question itself, and its transcript.
   */
  async reload(
    userId: string,
    sessionId: string,
    userMessageId: string,
    choice: { provider?: LlmProviderName; model?: string },
  ): Promise<DraftCompletion | null> {
    const resolved = this.chooseModel(choice.provider, choice.model);
    const stored = await asSystem(this.db, 'an async chat job reloads its session', async (tx) => {
      const [session] = await tx.select().from(chatSessions).where(and(eq(chatSessions.id, sessionId), eq(chatSessions.userId, userId)));
      if (!session) return null;
      const [question] = await tx
        .select({ content: chatMessages.content })
        .from(chatMessages)
        .where(and(eq(chatMessages.id, userMessageId), eq(chatMessages.sessionId, sessionId)));
      if (!question) return null;
      const history = await this.prompts.loadHistory(tx, sessionId, userMessageId);
      const grounding = session.transcriptionId ? await this.prompts.loadTranscript(tx, session.transcriptionId).catch(() => null) : null;
      return { question: question.content, history, grounding };
    });
    if (!stored) return null;
    const built = await this.prompts.build(userId, stored.question, stored.history, stored.grounding);
    // The question was stored when the job was queued.
    return { userId, sessionId, userMessageId, ...resolved, ...built, store: () => Promise.resolve() };
  }
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
