import type { LlmConfig, LlmProviderName } from '../config.js';
import type { AppDatabase, Tx } from '../db/client.js';
import { newId } from '../db/ids.js';
import { withUser } from '../db/scope.js';
import { AppError, errors } from '../http/errors.js';
import type { TranscriptReader } from '../transcription/reader.js';
import { groundingAcross } from './grounding/across.js';
import { extractCitations } from './grounding/citations.js';
import {
  providerFailure,
  type AnsweredCompletion,
  type CompletionInput,
  type CompletionOutcome,
  type CompletionStreamEvent,
  type DraftCompletion,
  type PreparedCompletion,
} from './completion-types.js';
import { PromptBuilder, type Grounding } from './prompt-builder.js';
import type { ChatProviderLookup } from './providers/index.js';
import { enqueueEvent } from '../webhooks/service.js';
import type { CompletionResult, LlmMessage, TokenUsage } from './providers/provider.js';
import { chooseModel, type ModelChoice } from './model-choice.js';
import { TokenQuota, withinReservation } from './quota.js';
import type { ChatService, SessionRow } from './service.js';
import { appliedRedactions, redactsFor, requestRedactor } from './redaction.js';

export class CompletionService {
  readonly quota: TokenQuota;
  private readonly prompts: PromptBuilder;

  constructor(
    private readonly db: AppDatabase,
    private readonly llm: LlmConfig,
    private readonly providers: ChatProviderLookup,
    private readonly chat: ChatService,
    private readonly transcripts: TranscriptReader,
  ) {
    this.quota = new TokenQuota(db, llm);
    this.prompts = new PromptBuilder(db, llm, transcripts);
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
   * day's allowance) and builds the grounded prompt; the question is stored by `store()`, or by
   * `writeQuestion(tx)` with the job that answers it later (which reserves when it runs).
   */
  async draft(userId: string, input: CompletionInput): Promise<DraftCompletion> {
    const choice = this.chooseModel(input.provider, input.model);
    const redacting = redactsFor(this.llm, choice.providerName, input.redact);
    const nothingToRead = !this.quota.limited && !input.session_id && !input.transcription_id && !input.scope && !redacting;
    // A fresh question without a transcript, a limit or redaction needs no read: skip the round trips of a transaction.
    const read = nothingToRead
      ? { spent: 0, session: undefined, transcriptionId: null, grounding: null, history: [] as LlmMessage[], redactor: null }
      : await withUser(this.db, userId, async (tx) => {
          const spent = this.quota.limited ? await this.quota.spentToday(tx, userId) : 0;
          // A day already spent is refused before the transcript is read for nothing.
          this.quota.allowance(spent, 0);
          let session: SessionRow | undefined;
          if (input.session_id) {
            session = await this.chat.findSession(tx, input.session_id);
            if (!session) throw errors.notFound('Chat session');
          }
          const transcriptionId = input.transcription_id ?? session?.transcriptionId ?? null;
          const grounding: Grounding | null = transcriptionId
            ? await this.transcripts.forGrounding(tx, transcriptionId)
            : input.scope === 'all'
              ? await groundingAcross(tx, this.transcripts, input.message)
              : null;
          const history = session ? await this.chat.history(tx, session.id, this.llm.contextTokens) : [];
          const redactor = await requestRedactor(tx, redacting);
          return { spent, session, transcriptionId, grounding, history, redactor };
        });
    const built = await this.prompts.build(userId, input.message, read.history, read.grounding, read.redactor);
    this.quota.allowance(read.spent, built.promptTokens);
    const sessionId = read.session?.id ?? newId();
    const userMessageId = newId();
    const newSession = read.session
      ? undefined
      : { title: input.message.trim().slice(0, 80) || 'New chat', transcriptionId: read.transcriptionId };
    const writeQuestion = (tx: Tx) =>
      this.chat.writeQuestion(tx, { userId, sessionId, messageId: userMessageId, content: input.message, newSession });
    let stored: Promise<void> | undefined;
    const store = () => (stored ??= withUser(this.db, userId, writeQuestion));
    const redaction = { redactor: read.redactor, redactions: appliedRedactions(read.redactor, built.messages) };
    return { userId, sessionId, userMessageId, ...choice, ...built, ...redaction, writeQuestion, store };
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
  private ask(prepared: PreparedCompletion, signal: AbortSignal, client: AbortSignal = signal): Promise<CompletionResult> {
    return withinReservation(prepared.reservation, client, (maxTokens) =>
      prepared.provider.complete({ model: prepared.model, messages: prepared.messages, maxTokens, signal }),
    ).catch((error: unknown) => {
      throw providerFailure(error);
    });
  }

  /**
   * The provider's answer to a prepared question, asked within its reservation (at most
   * LLM_MAX_OUTPUT_TOKENS, less when the day's allowance is nearly spent) while the question is
   * stored. Recorded by the caller, in a transaction of its own (`complete`) or with a job's
   * completion.
   */
  async answer(prepared: PreparedCompletion, signal: AbortSignal): Promise<AnsweredCompletion> {
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
    const latencyMs = performance.now() - started;
    const messageId = newId();
    return { messageId, record: (tx) => this.record(tx, prepared, { ...result, latencyMs }, messageId) };
  }

  /** A question answered now: asked, then stored. */
  async complete(prepared: PreparedCompletion, signal: AbortSignal): Promise<CompletionOutcome> {
    const answered = await this.answer(prepared, signal);
    return withUser(this.db, prepared.userId, (tx) => answered.record(tx));
  }

  /** Deltas as the provider sends them, then the stored answer with its citations and usage. */
  async *stream(prepared: PreparedCompletion, signal: AbortSignal): AsyncGenerator<CompletionStreamEvent> {
    const started = performance.now();
    const storing = new AbortController();
    // Written while the provider thinks; measured faster than writing after the first token.
    const stored = storeAlongside(prepared, storing);
    // The client reads real values as they stream; a placeholder cut between deltas waits for its end.
    const restorer = prepared.redactor?.restorer();
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
          const text = restorer ? restorer.push(event.text) : event.text;
          if (text !== '') yield { type: 'delta', text };
        } else {
          const rest = restorer?.flush() ?? '';
          if (rest !== '') yield { type: 'delta', text: rest };
          answered = true;
          await stored;
          const answer = { content, usage: event.usage, model: event.model, latencyMs: performance.now() - started };
          yield { type: 'done', result: await withUser(this.db, prepared.userId, (tx) => this.record(tx, prepared, answer, newId())) };
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

  /**
   * Stores the answer, its placeholders given their values back (only citations that exist in the
   * transcript), and settles its reservation to the real usage.
   */
  private async record(
    tx: Tx,
    prepared: PreparedCompletion,
    answer: { content: string; usage: TokenUsage; model: string; latencyMs: number },
    messageId: string,
  ): Promise<CompletionOutcome> {
    const restored = prepared.redactor ? prepared.redactor.restore(answer.content) : answer.content;
    const { content, citations } = extractCitations(restored, prepared.segments);
    const { userId, sessionId, providerName: provider, redactions } = prepared;
    const { usage, model } = answer;
    await this.chat.writeAnswer(tx, {
      id: messageId,
      userId,
      sessionId,
      content,
      provider,
      model,
      usage,
      latencyMs: answer.latencyMs,
      citations,
      redactions,
    });
    await prepared.reservation.settle(usage, model, tx);
    await enqueueEvent(tx, userId, 'chat.completed', { session_id: sessionId, message_id: messageId });
    return {
      content,
      citations,
      usage: { input_tokens: usage.inputTokens, output_tokens: usage.outputTokens },
      provider,
      model,
      session_id: sessionId,
      message_id: messageId,
      redactions,
    };
  }

  /**
   * Rebuilds a queued question's draft from what is stored (for the async job), read as its user:
   * the session's messages before the question, the question itself, and its transcript. Null
   * when the session or the question was deleted. A transcript deleted meanwhile leaves the
   * session without one (ON DELETE SET NULL): the question is answered without it.
   */
  async reload(
    userId: string,
    sessionId: string,
    userMessageId: string,
    choice: { provider?: LlmProviderName; model?: string; redact?: boolean },
  ): Promise<DraftCompletion | null> {
    const resolved = this.chooseModel(choice.provider, choice.model);
    const redacting = redactsFor(this.llm, resolved.providerName, choice.redact);
    const stored = await withUser(this.db, userId, async (tx) => {
      const question = await this.chat.storedQuestion(tx, sessionId, userMessageId);
      if (!question) return null;
      const history = await this.chat.history(tx, sessionId, this.llm.contextTokens, userMessageId);
      const grounding = question.transcriptionId
        ? await this.transcripts.forGrounding(tx, question.transcriptionId).catch(ungroundedIfGone)
        : null;
      const redactor = await requestRedactor(tx, redacting);
      return { question: question.content, history, grounding, redactor };
    });
    if (!stored) return null;
    const built = await this.prompts.build(userId, stored.question, stored.history, stored.grounding, stored.redactor);
    const redaction = { redactor: stored.redactor, redactions: appliedRedactions(stored.redactor, built.messages) };
    // The question was stored with the job.
    const nothing = () => Promise.resolve();
    return { userId, sessionId, userMessageId, ...resolved, ...built, ...redaction, writeQuestion: nothing, store: nothing };
  }
}

/** A transcript that went away between the question and its job (404) is no reason to fail it. */
function ungroundedIfGone(error: unknown): null {
  if (error instanceof AppError && error.code === 'not_found') return null;
  throw error;
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
