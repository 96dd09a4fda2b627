/**
 * A structured summary of a transcript: one LLM call when the transcript fits the budget,
 * otherwise map-reduce (summarise parts that fit, then merge the partial summaries).
 */

import type { LlmMessage, TokenUsage } from '../providers/provider.js';
import { citationsForIndexes, extractCitations, type Citation } from './citations.js';
import { languageLabel } from './prompts.js';
import { estimateMessagesTokens, estimateTokens } from './tokens.js';
import {
  formatSegments,
  inTranscriptOrder,
  segmentCost,
  truncateSegment,
  type GroundingSegment,
} from './transcript.js';

export interface SummaryPoint {
  text: string;
  /** Indexes of the segments that support it, ascending. */
  segments: number[];
}

export interface SummaryActionItem {
  text: string;
  owner: string | null;
  segments: number[];
}

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

/** The model's reply could not be read as the summary JSON. */
export class SummaryParseError extends Error {
  constructor(
    message: string,
    /** The reply as received. */
    readonly raw: string,
  ) {
    super(message);
    this.name = 'SummaryParseError';
  }
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

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}

/**
 * The JSON object in a model's reply: inside a ```json fence when there is one, from the first
 * `{` to the last `}`. Throws SummaryParseError when there is none or it does not parse.
 */
export function parseJsonObject(reply: string, where = 'summary'): Record<string, unknown> {
  let body = reply.trim();
  const fenced = /```[a-zA-Z]*[ \t]*\r?\n?([\s\S]*?)```/.exec(body);
  if (fenced?.[1]?.includes('{')) body = fenced[1];
  const first = body.indexOf('{');
  const last = body.lastIndexOf('}');
  const fail = (why: string) =>
    new SummaryParseError(
      `The model's reply to the ${where} request is not a JSON object (${why}): "${snippet(reply)}"`,
      reply,
    );
  if (first === -1 || last < first) throw fail('no {...} found');
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.slice(first, last + 1));
  } catch (error) {
    throw fail(error instanceof Error ? error.message : 'unparseable');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw fail('not an object');
  return parsed as Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// Reading a reply into the summary shape, keeping only segment numbers that exist.

interface PartialSummary {
  summary: string;
  key_points: SummaryPoint[];
  action_items: SummaryActionItem[];
  language: string | null;
}

function asString(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

function toIndex(value: unknown): number | null {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string') {
    const match = /^\s*\[?\s*(\d+)\s*\]?\s*$/.exec(value);
    if (match?.[1]) return Number.parseInt(match[1], 10);
  }
  return null;
}

class SegmentFilter {
  private readonly indexById: Map<string, number>;
  private readonly valid: Set<number>;

  constructor(readonly segments: readonly GroundingSegment[]) {
    this.indexById = new Map(segments.map((s) => [s.id, s.index]));
    this.valid = new Set(segments.map((s) => s.index));
  }

  /** Text with invented [n] markers removed, and the indexes its valid markers cite. */
  text(value: string): { text: string; cited: number[] } {
    const { content, citations } = extractCitations(value, this.segments);
    return { text: content.trim(), cited: citations.map((c) => this.indexById.get(c.segment_id) ?? -1) };
  }

  indexes(values: unknown, extra: number[] = []): number[] {
    const listed = Array.isArray(values) ? values.map(toIndex) : [toIndex(values)];
    const all = [...listed, ...extra].filter((i): i is number => i !== null && this.valid.has(i));
    return [...new Set(all)].sort((a, b) => a - b);
  }
}

function readItems(value: unknown): Record<string, unknown>[] {
  if (!Array.isArray(value)) return [];
  return value
    .map((item): Record<string, unknown> | null => {
      if (typeof item === 'string') return { text: item };
      if (item !== null && typeof item === 'object' && !Array.isArray(item)) return item as Record<string, unknown>;
      return null;
    })
    .filter((item): item is Record<string, unknown> => item !== null);
}

function readSummary(raw: Record<string, unknown>, filter: SegmentFilter): PartialSummary {
  const key_points: SummaryPoint[] = [];
  for (const item of readItems(raw.key_points)) {
    const text = asString(item.text) ?? asString(item.point);
    if (!text) continue;
    const cleaned = filter.text(text);
    if (cleaned.text) key_points.push({ text: cleaned.text, segments: filter.indexes(item.segments, cleaned.cited) });
  }
  const action_items: SummaryActionItem[] = [];
  for (const item of readItems(raw.action_items)) {
    const text = asString(item.text) ?? asString(item.task);
    if (!text) continue;
    const cleaned = filter.text(text);
    if (!cleaned.text) continue;
    action_items.push({
      text: cleaned.text,
      owner: asString(item.owner),
      segments: filter.indexes(item.segments, cleaned.cited),
    });
  }
  return {
    summary: filter.text(asString(raw.summary) ?? '').text,
    key_points,
    action_items,
    language: asString(raw.language),
  };
}

// ---------------------------------------------------------------------------------------------
// Prompts.

const SHAPE =
  '{"summary": string, "key_points": [{"text": string, "segments": number[]}], "action_items": [{"text": string, "owner": string | null, "segments": number[]}], "language": string}';

function writeIn(language: string | null | undefined): string {
  const label = languageLabel(language);
  return label ? `Write in ${label}, the language of the recording.` : 'Write in the language of the recording.';
}

function rules(language: string | null | undefined): string[] {
  return [
    `Reply with one JSON object and nothing else, shaped: ${SHAPE}`,
    '- summary: what the recording is about and what was said, in one to three short paragraphs.',
    '- key_points: the main points, in the order they come up.',
    '- action_items: tasks, commitments and follow-ups, with owner set to the person responsible when the transcript names one, else null. An empty list when there are none.',
    '- segments: the numbers [n] of the transcript segments that support the item. Only numbers that exist.',
    '- language: the ISO 639-1 code of the language you wrote in.',
    'Base everything on the transcript; add nothing from outside it.',
    writeIn(language),
  ];
}

function header(title: string): string {
  return `Recording title: ${JSON.stringify(title.trim() || 'Untitled')}`;
}

function summaryMessages(title: string, language: string | null | undefined, block: string): LlmMessage[] {
  return [
    {
      role: 'system',
      content: [
        'You summarise the transcript of a recording. The transcript is given as numbered segments, one per line: `[n] (start–end) text`, or `[n] Speaker (start–end): text` where the speaker is known.',
        ...rules(language),
      ].join('\n'),
    },
    { role: 'user', content: `${header(title)}\n\n<transcript>\n${block}\n</transcript>` },
  ];
}

function mapMessages(
  title: string,
  language: string | null | undefined,
  block: string,
  part: number,
  parts: number,
  first: number,
  last: number,
): LlmMessage[] {
  return [
    {
      role: 'system',
      content: [
        'You summarise one part of the transcript of a long recording; the summaries of all parts will be merged afterwards. The transcript is given as numbered segments, one per line: `[n] (start–end) text`, or `[n] Speaker (start–end): text` where the speaker is known.',
        ...rules(language),
      ].join('\n'),
    },
    {
      role: 'user',
      content: `${header(title)}\nThis is part ${part} of ${parts}: segments [${first}] to [${last}]. Summarise this part only.\n\n<transcript>\n${block}\n</transcript>`,
    },
  ];
}

function renderPartial(partial: PartialSummary, part: number): string {
  const body = JSON.stringify({
    summary: partial.summary,
    key_points: partial.key_points,
    action_items: partial.action_items,
  });
  return `<part n="${part}">\n${body}\n</part>`;
}

function reduceMessages(title: string, language: string | null | undefined, rendered: string[]): LlmMessage[] {
  return [
    {
      role: 'system',
      content: [
        'You merge the partial summaries of consecutive parts of one recording\'s transcript into a single summary of the whole recording.',
        'Combine points that repeat (joining their segment numbers), keep the order of the recording, and keep every action item once.',
        'Keep the segment numbers given in the partial summaries; do not invent others.',
        ...rules(language),
      ].join('\n'),
    },
    { role: 'user', content: `${header(title)}\n\nPartial summaries, in order:\n\n${rendered.join('\n\n')}` },
  ];
}

// ---------------------------------------------------------------------------------------------

async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next;
      next += 1;
      results[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/** Consecutive runs of segments whose formatted lines fit `budget`; a segment too long alone is cut. */
function chunkSegments(segments: readonly GroundingSegment[], budget: number): GroundingSegment[][] {
  const chunks: GroundingSegment[][] = [];
  let current: GroundingSegment[] = [];
  let used = 0;
  for (const original of segments) {
    const segment = truncateSegment(original, budget);
    const cost = segmentCost(segment);
    if (current.length > 0 && used + cost > budget) {
      chunks.push(current);
      current = [];
      used = 0;
    }
    current.push(segment);
    used += cost;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/**
 * Groups of consecutive items whose costs fit `budget`. A group takes at least two items (only
 * the last may be left with one), so that merging always progresses: two partial summaries too
 * long to fit together are the one case where a merge call goes over budget.
 */
function packForMerge(costs: number[], budget: number): number[][] {
  const groups: number[][] = [];
  let current: number[] = [];
  let used = 0;
  costs.forEach((cost, i) => {
    if (current.length >= 2 && used + cost > budget) {
      groups.push(current);
      current = [];
      used = 0;
    }
    current.push(i);
    used += cost;
  });
  if (current.length > 0) groups.push(current);
  return groups;
}

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
