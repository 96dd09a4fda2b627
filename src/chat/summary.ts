import { createHash } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import type { LlmConfig } from '../config.js';
import type { AppDatabase } from '../db/client.js';
import { newId } from '../db/ids.js';
import { transcriptSummaries, type StoredSummary } from '../db/schema.js';
import { withUser } from '../db/scope.js';
import { AppError } from '../http/errors.js';
import type { TranscriptForGrounding, TranscriptReader, TranscriptSegmentRead } from '../transcription/reader.js';
import type { Redactor } from '../privacy/index.js';
import { redactsFor, requestRedactor } from './redaction.js';
import type { CompletionService } from './completion.js';
import { providerFailure } from './completion-types.js';
import { SummaryBudgetError, SummaryParseError, summarizeTranscript, type TranscriptSummary } from './grounding/summarize.js';
import { estimateMessagesTokens } from './grounding/tokens.js';
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

/** The title and segments as the provider may read them. */
function redactTranscript(source: TranscriptForGrounding, redactor: Redactor): Pick<TranscriptForGrounding, 'title' | 'segments'> {
  return {
    title: redactor.redact(source.title),
    segments: source.segments.map((s) => ({ ...s, text: redactor.redact(s.text), speaker: s.speaker && redactor.redact(s.speaker) })),
  };
}

/** A summary of the redacted transcript, with its values back; citations quote the segments as stored. */
function restoreSummary(summary: TranscriptSummary, redactor: Redactor, segments: readonly TranscriptSegmentRead[]): StoredSummary {
  const textOf = new Map(segments.map((s) => [s.id, s.text]));
  return {
    summary: redactor.restore(summary.summary),
    key_points: summary.key_points.map((p) => ({ ...p, text: redactor.restore(p.text) })),
    action_items: summary.action_items.map((a) => ({
      ...a,
      text: redactor.restore(a.text),
      owner: a.owner === null ? null : redactor.restore(a.owner),
    })),
    language: summary.language,
    citations: summary.citations.map((c) => ({ ...c, text: textOf.get(c.segment_id) ?? redactor.restore(c.text) })),
  };
}

export class SummaryService {
  constructor(
    private readonly db: AppDatabase,
    private readonly llm: LlmConfig,
    private readonly completion: CompletionService,
    private readonly transcripts: TranscriptReader,
  ) {}

  /**
   * The summary of a recording's latest completed transcript: stored per transcription and
   * returned again without an LLM call until the transcript changes.
   */
  async summarize(
    userId: string,
    recordingId: string,
    choice: { provider?: LlmProviderName; model?: string; redact?: boolean },
    signal: AbortSignal,
  ): Promise<SummaryView> {
    const source = await withUser(this.db, userId, async (tx) => {
      const transcript = await this.transcripts.latestCompletedOf(tx, recordingId);
      const hash = transcriptHash(transcript.segments);
      const [cached] = await tx
        .select()
        .from(transcriptSummaries)
        .where(and(eq(transcriptSummaries.transcriptionId, transcript.transcriptionId), eq(transcriptSummaries.transcriptHash, hash)));
      return { ...transcript, hash, cached };
    });
    if (source.cached) return this.view(source.cached, true);

    const model = this.completion.chooseModel(choice.provider, choice.model);
    const redacting = redactsFor(this.llm, model.providerName, choice.redact);
    // One redactor for every call of this summary (parts and merges): a value keeps its placeholder throughout.
    const redactor = redacting ? await withUser(this.db, userId, (tx) => requestRedactor(tx, true)) : null;
    const sent = redactor ? redactTranscript(source, redactor) : source;
    const started = performance.now();
    let summary;
    try {
      summary = await summarizeTranscript({
        segments: sent.segments,
        title: sent.title,
        language: source.language,
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
    const content: StoredSummary = redactor
      ? restoreSummary(summary, redactor, source.segments)
      : {
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
        .values({ id: newId(), userId, transcriptionId: source.transcriptionId, ...values })
        .onConflictDoUpdate({ target: transcriptSummaries.transcriptionId, set: { ...values, createdAt: sql`now()` } })
        .returning();
      await enqueueEvent(tx, userId, 'summary.completed', { transcription_id: source.transcriptionId, recording_id: recordingId });
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
