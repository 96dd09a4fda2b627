import type { LlmConfig } from '../config.js';
import type { AppDatabase } from '../db/client.js';
import type { StoredSummary } from '../db/schema.js';
import { withUser } from '../db/scope.js';
import { AppError } from '../http/errors.js';
import type { TranscriptForGrounding, TranscriptReader, TranscriptSegmentRead } from '../transcription/reader.js';
import type { Redactor } from '../privacy/index.js';
import { redactsFor, requestRedactor } from './redaction.js';
import type { CompletionService } from './completion.js';
import { providerFailure } from './completion-types.js';
import { SummaryBudgetError, summarizeTranscript, type TranscriptSummary } from './grounding/summarize.js';
import { SummaryParseError } from './grounding/summary-parse.js';
import { estimateMessagesTokens } from './grounding/tokens.js';
import { withinReservation } from './quota.js';
import { enqueueEvent } from '../webhooks/service.js';
import type { LlmProviderName } from './providers/provider.js';
import { latestStored, storeSummary, storedFor, summaryView, transcriptHash, type SummaryView } from './summary-cache.js';

export type { SummaryView } from './summary-cache.js';

export interface SummaryRequest {
  provider?: LlmProviderName;
  model?: string;
  redact?: boolean;
  /** Make it again even when the stored one is current. */
  refresh?: boolean;
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
   * The summary of a recording's latest completed transcript by the chosen (or default) provider
   * and model: the stored one when it was made from the transcript as it is now, with redaction
   * as this request needs it; otherwise a new one, which replaces that provider/model's.
   */
  async summarize(userId: string, recordingId: string, request: SummaryRequest, signal: AbortSignal): Promise<SummaryView> {
    const model = this.completion.chooseModel(request.provider, request.model);
    const redacting = redactsFor(this.llm, model.providerName, request.redact);
    const source = await withUser(this.db, userId, async (tx) => {
      const transcript = await this.transcripts.latestCompletedOf(tx, recordingId);
      const hash = transcriptHash(transcript.segments);
      const stored = request.refresh ? undefined : await storedFor(tx, transcript.transcriptionId, model.providerName, model.model);
      // Either way round a mismatch is a miss: unredacted text must not answer a request that has
      // to redact, and one that may send the text as it is asked for what the model makes of it.
      const current = stored && stored.transcriptHash === hash && stored.redacted === redacting ? stored : undefined;
      // One redactor for every call of this summary (parts and merges): a value keeps its placeholder throughout.
      const redactor = current ? null : await requestRedactor(tx, redacting);
      return { ...transcript, hash, current, redactor };
    });
    if (source.current) return summaryView(source.current, { cached: true, stale: false });

    const { redactor } = source;
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
      const stored = await storeSummary(tx, {
        userId,
        transcriptionId: source.transcriptionId,
        transcriptHash: source.hash,
        content,
        provider: model.providerName,
        model: model.model,
        redacted: redactor !== null,
        inputTokens: summary.usage.inputTokens,
        outputTokens: summary.usage.outputTokens,
        latencyMs: Math.round(performance.now() - started),
      });
      await enqueueEvent(tx, userId, 'summary.completed', { transcription_id: source.transcriptionId, recording_id: recordingId });
      return stored;
    });
    return summaryView(row, { cached: false, stale: false });
  }

  /**
   * The summary last made of a recording's latest completed transcript (by this provider and/or
   * model when named), without an LLM call; `stale` when the transcript changed since.
   */
  async latest(userId: string, recordingId: string, filter: { provider?: LlmProviderName; model?: string }): Promise<SummaryView> {
    return withUser(this.db, userId, async (tx) => {
      const transcript = await this.transcripts.latestCompletedOf(tx, recordingId);
      const row = await latestStored(tx, transcript.transcriptionId, filter);
      if (!row) {
        const of = filter.provider || filter.model ? ` by ${[filter.provider, filter.model].filter(Boolean).join(':')}` : '';
        throw new AppError('summary_not_found', `No summary${of} of this recording's latest transcript yet; POST to make one`);
      }
      return summaryView(row, { cached: true, stale: row.transcriptHash !== transcriptHash(transcript.segments) });
    });
  }
}
