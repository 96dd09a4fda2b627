/**
 * A structured summary of a transcript: one LLM call when the transcript fits the budget,
 * otherwise map-reduce (summarise parts that fit, then merge the partial summaries).
 */

import type { LlmMessage, TokenUsage } from '../providers/provider.js';
import { citationsForIndexes, type Citation } from './citations.js';
import { chunkSegments, mapLimit, packForMerge } from './summary-chunks.js';
import {
  parseJsonObject,
  readSummary,
  SegmentFilter,
  type PartialSummary,
  type SummaryActionItem,
  type SummaryPoint,
} from './summary-parse.js';
import { mapMessages, reduceMessages, renderPartial, summaryMessages } from './summary-prompts.js';
import { estimateMessagesTokens, estimateTokens } from './tokens.js';
import { formatSegments, inTranscriptOrder, type GroundingSegment } from './transcript.js';

/** One LLM call; `json: true` asks the provider for a single JSON object. */
export type SummaryCompleteFunction = (
  messages: LlmMessage[],
  options: { json: true },
) => Promise<{ content: string; usage: TokenUsage }>;

export interface SummarizeTranscriptInput {
  segments: readonly GroundingSegment[];
  title: string;
  /** The transcript's language (ISO code); the summary is written in it. */
  language?: string | null;
  /**
   * Most estimated input tokens for any one call (leave room for the answer below the model's
   * limit). The instructions alone take about 300. Exception: merging always takes at least two
   * partial summaries at a time, even when those two alone exceed it.
   */
  budgetTokens: number;
  complete: SummaryCompleteFunction;
  /** Parts summarised at once in map-reduce; 1 (one after the other) unless set. */
  concurrency?: number;
}

export interface TranscriptSummary {
  summary: string;
  key_points: SummaryPoint[];
  action_items: SummaryActionItem[];
  /** As the model reported it, else the transcript's language. */
  language: string | null;
  /** Every segment the summary cites, by ascending index. */
  citations: Citation[];
  /** Summed over all calls. */
  usage: TokenUsage;
  calls: number;
}

/** The budget cannot hold even the instructions and a little transcript. */
export class SummaryBudgetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SummaryBudgetError';
  }
}

/** A smaller budget for the transcript of a part than this is not worth a call. */
const MIN_CHUNK_TOKENS = 16;

export async function summarizeTranscript(input: SummarizeTranscriptInput): Promise<TranscriptSummary> {
  const { title, language, budgetTokens, complete } = input;
  const segments = inTranscriptOrder(input.segments);
  const all = new SegmentFilter(segments);
  const usage: TokenUsage = { inputTokens: 0, outputTokens: 0 };
  let calls = 0;

  const call = async (messages: LlmMessage[], filter: SegmentFilter, where: string): Promise<PartialSummary> => {
    calls += 1;
    const reply = await complete(messages, { json: true });
    usage.inputTokens += reply.usage.inputTokens;
    usage.outputTokens += reply.usage.outputTokens;
    return readSummary(parseJsonObject(reply.content, where), filter);
  };

  const finish = (result: PartialSummary): TranscriptSummary => {
    const cited = [
      ...all.text(result.summary).cited,
      ...result.key_points.flatMap((p) => p.segments),
      ...result.action_items.flatMap((a) => a.segments),
    ];
    return {
      ...result,
      language: result.language ?? language ?? null,
      citations: citationsForIndexes(cited, segments),
      usage,
      calls,
    };
  };

  if (segments.length === 0) {
    return finish({ summary: '', key_points: [], action_items: [], language: null });
  }

  const single = summaryMessages(title, language, formatSegments(segments));
  if (estimateMessagesTokens(single) <= budgetTokens) return finish(await call(single, all, 'summary'));

  // Map: parts that fit, each summarised on its own. The overhead is measured with the widest
  // numbers the part header can carry, so every real part prompt fits.
  const widest = segments.reduce((max, s) => Math.max(max, Math.abs(s.index)), segments.length) * 10;
  const mapOverhead = estimateMessagesTokens(mapMessages(title, language, '', widest, widest, widest, widest));
  const chunkBudget = budgetTokens - mapOverhead;
  if (chunkBudget < MIN_CHUNK_TOKENS) {
    throw new SummaryBudgetError(
      `A budget of ${budgetTokens} tokens cannot hold the summary instructions (about ${mapOverhead} tokens) and any transcript.`,
    );
  }
  const chunks = chunkSegments(segments, chunkBudget);
  let partials = await mapLimit(chunks, input.concurrency ?? 1, (chunk, i) => {
    const first = chunk[0] as GroundingSegment;
    const last = chunk[chunk.length - 1] as GroundingSegment;
    const messages = mapMessages(title, language, formatSegments(chunk), i + 1, chunks.length, first.index, last.index);
    return call(messages, new SegmentFilter(chunk), `summary of part ${i + 1} of ${chunks.length}`);
  });
  if (partials.length === 1) return finish(partials[0] as PartialSummary);

  // Reduce: merge partial summaries; when they do not all fit one call, merge them in groups first.
  const reduceBudget = budgetTokens - estimateMessagesTokens(reduceMessages(title, language, []));
  for (let round = 1; ; round += 1) {
    const rendered = partials.map((p, i) => renderPartial(p, i + 1));
    const costs = rendered.map((r) => estimateTokens(r) + 1);
    const groups = packForMerge(costs, reduceBudget);
    if (groups.length === 1) {
      return finish(await call(reduceMessages(title, language, rendered), all, 'merge of the partial summaries'));
    }
    const previous = partials;
    partials = await mapLimit(groups, input.concurrency ?? 1, async (group, g) => {
      // Only the last group can hold a single partial summary: it goes on to the next round as is.
      if (group.length === 1) return previous[group[0] ?? 0] as PartialSummary;
      const messages = reduceMessages(
        title,
        language,
        group.map((i, n) => renderPartial(previous[i] as PartialSummary, n + 1)),
      );
      return call(messages, all, `merge round ${round}, group ${g + 1} of ${groups.length}`);
    });
  }
}
