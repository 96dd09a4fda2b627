/**
 * Reading the model's reply into the summary shape, keeping only segment numbers that exist.
 */

import { extractCitations } from './citations.js';
import type { GroundingSegment } from './transcript.js';

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

export interface PartialSummary {
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

export class SegmentFilter {
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

export function readSummary(raw: Record<string, unknown>, filter: SegmentFilter): PartialSummary {
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
