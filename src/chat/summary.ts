import { createHash } from 'node:crypto';
import { and, desc, eq, sql } from 'drizzle-orm';
import type { LlmConfig } from '../config.js';
import type { AppDatabase } from '../db/client.js';
import { newId } from '../db/ids.js';
import { recordings, transcriptSummaries, transcriptions, type StoredSummary } from '../db/schema.js';
import { withUser } from '../db/scope.js';
import { AppError, errors } from '../http/errors.js';
import { providerFailure, type CompletionService } from './completion.js';
import { SummaryBudgetError, SummaryParseError, summarizeTranscript } from './grounding/summarize.js';
import { estimateMessagesTokens } from './grounding/tokens.js';
import { groundingSegments } from './prompt-builder.js';
import { withinReservation } from './quota.js';
import { enqueueEvent } from '../webhooks/service.js';
import type { LlmProviderName } from './providers/provider.js';

export interface SummaryView extends StoredSummary {
  transcription_id: string;
  cached: boolean;
  provider: string;
  model: string;
  usage: { input_tokens: number; output_tokens: number };
  created_at: string;
}

/** What a summary was made from: any change to the segments' text or order makes a new one. */
function transcriptHash(segments: { index: number; text: string }[]): string {
  const hash = createHash('sha256');
  for (const s of segments) hash.update(`${s.index}\u0000${s.text}\u0001`);
  return hash.digest('hex');
}

export class SummaryService {
  constructor(
    private readonly db: AppDatabase,
    private readonly llm: LlmConfig,
    private readonly completion: CompletionService,
  ) {}

  /**
   * The summary of a recording's latest completed transcript: stored per transcription and
   * returned again without an LLM call until the transcript changes.
   */
  async summarize(userId: string, recordingId: string, choice: { provider?: LlmProviderName; model?: string }, signal: AbortSignal): Promise<SummaryView> {
    const source = await withUser(this.db, userId, async (tx) => {
      const [recording] = await tx.select({ title: recordings.title }).from(recordings).where(eq(recordings.id, recordingId));
      if (!recording) throw errors.notFound('Recording');
      const [transcription] = await tx
        .select()
        .from(transcriptions)
        .where(and(eq(transcriptions.recordingId, recordingId), eq(transcriptions.status, 'completed')))
        .orderBy(desc(transcriptions.id))
        .limit(1);
      if (!transcription) throw new AppError('transcription_not_ready', 'The recording has no completed transcription yet');
      const segments = await groundingSegments(tx, transcription.id);
      const hash = transcriptHash(segments);
      const [cached] = await tx
        .select()
        .from(transcriptSummaries)
        .where(and(eq(transcriptSummaries.transcriptionId, transcription.id), eq(transcriptSummaries.transcriptHash, hash)));
      return { title: recording.title, transcription, segments, hash, cached };
    });
    if (source.cached) return this.view(source.cached, true);

    const model = this.completion.chooseModel(choice.provider, choice.model);
    const started = performance.now();
    let summary;
    try {
      summary = await summarizeTranscript({
        segments: source.segments,
        title: source.title,
        language: source.transcription.language,
        budgetTokens: this.llm.contextTokens,
        // Each call (one, or one per part and merge) reserves against today's allowance, and is
        // settled at once: its tokens are spent whether or not the summary is finished.
        complete: async (messages) => {
          const reservation = await this.completion.quota.reserve({
            userId,
            purpose: 'summary',
            provider: model.providerName,
            model: model.model,
            promptTokens: estimateMessagesTokens(messages),
          });
          const result = await withinReservation(reservation, signal, (maxTokens) =>
            model.provider.complete({ model: model.model, messages, json: true, maxTokens, signal }),
          );
          await reservation.settle(result.usage, result.model);
          return { content: result.content, usage: result.usage };
        },
      });
    } catch (error) {
      // A reply that is not the JSON asked for is the model's failure, not ours: a bad gateway.
      if (error instanceof SummaryParseError) throw new AppError('llm_invalid_reply', error.message);
      if (error instanceof SummaryBudgetError) throw new AppError('llm_context_exceeded', `${error.message} Raise LLM_CONTEXT_TOKENS.`);
      throw providerFailure(error);
    }
    const content: StoredSummary = {
      summary: summary.summary,
      key_points: summary.key_points,
      action_items: summary.action_items,
      language: summary.language,
      citations: summary.citations,
    };
    const row = await withUser(this.db, userId, async (tx) => {
      const values = {
        transcriptHash: source.hash,
        content,
        provider: model.providerName,
        model: model.model,
        inputTokens: summary.usage.inputTokens,
        outputTokens: summary.usage.outputTokens,
        latencyMs: Math.round(performance.now() - started),
        createdAt: new Date(),
      };
      const [stored] = await tx
        .insert(transcriptSummaries)
        .values({ id: newId(), userId, transcriptionId: source.transcription.id, ...values })
        .onConflictDoUpdate({ target: transcriptSummaries.transcriptionId, set: { ...values, createdAt: sql`now()` } })
        .returning();
      await enqueueEvent(tx, userId, 'summary.completed', { transcription_id: source.transcription.id, recording_id: recordingId });
      return stored!;
    });
    return this.view(row, false);
  }

  private view(row: typeof transcriptSummaries.$inferSelect, cached: boolean): SummaryView {
    return {
      ...row.content,
      transcription_id: row.transcriptionId,
      cached,
      provider: row.provider,
      model: row.model,
      usage: { input_tokens: row.inputTokens, output_tokens: row.outputTokens },
      created_at: row.createdAt.toISOString(),
    };
  }
}
