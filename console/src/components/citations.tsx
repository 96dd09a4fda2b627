import { Fragment } from 'preact';
import type { ComponentChildren } from 'preact';
import { clock } from '../format';
import { useI18n } from '../i18n';

/** Where a citation leads: a time to seek the player to, and the segment to show. */
export interface CiteTarget {
  segmentId: string;
  start: number | null;
  /** Another recording's transcript (answers across all of them); absent for the one on screen. */
  href?: string;
}

/** A piece of an answer: prose, or one cited segment number. */
export type AnswerPart = { text: string } | { cite: number };

// The server's marker grammar (src/chat/grounding/citations.ts): [3], [3, 4], [3-5]; not [3](url).
const MARKER = /\[\s*(\d{1,9}(?:\s*[-–—]\s*\d{1,9})?(?:\s*[,;]\s*\d{1,9}(?:\s*[-–—]\s*\d{1,9})?)*)\s*\](?!\()/g;
// A range longer than this is drawn by its ends, not as dozens of links.
const MAX_RANGE = 12;

function numbersIn(inner: string): number[] {
  const out: number[] = [];
  for (const item of inner.split(/[,;]/)) {
    const [a, b] = item.split(/[-–—]/).map((n) => Number.parseInt(n.trim(), 10));
    if (a === undefined || Number.isNaN(a)) continue;
    if (b === undefined || Number.isNaN(b)) out.push(a);
    else if (Math.abs(b - a) < MAX_RANGE) for (let i = Math.min(a, b); i <= Math.max(a, b); i++) out.push(i);
    else out.push(a, b);
  }
  return out;
}

/** An answer split into prose and its cited segment numbers, in order. */
export function answerParts(content: string): AnswerPart[] {
  const parts: AnswerPart[] = [];
  let cursor = 0;
  for (const match of content.matchAll(MARKER)) {
    if (match.index > cursor) parts.push({ text: content.slice(cursor, match.index) });
    for (const cite of numbersIn(match[1] ?? '')) parts.push({ cite });
    cursor = match.index + match[0].length;
  }
  if (cursor < content.length) parts.push({ text: content.slice(cursor) });
  return parts;
}

/**
 * The target of each cited number: the transcript's segment with that index when it is on
 * screen, else the answer's citations in the order the server lists them (ascending index).
 */
export function citeTargets(
  content: string,
  citations: ReadonlyArray<{ segment_id: string; start: number | null; recording_id?: string | null }>,
  segments: ReadonlyArray<{ id: string; index: number; start: number | null }> = [],
): Map<number, CiteTarget> {
  const targets = new Map<number, CiteTarget>();
  const byIndex = new Map(segments.map((s) => [s.index, s]));
  const cited = [...new Set(answerParts(content).flatMap((p) => ('cite' in p ? [p.cite] : [])))].sort((a, b) => a - b);
  cited.forEach((n, i) => {
    const segment = byIndex.get(n);
    const citation = citations[i];
    if (segment) targets.set(n, { segmentId: segment.id, start: segment.start });
    else if (citation) targets.set(n, { segmentId: citation.segment_id, start: citation.start, href: hrefOf(citation) });
  });
  return targets;
}

function hrefOf(citation: { start: number | null; recording_id?: string | null }): string | undefined {
  if (!citation.recording_id) return undefined;
  return `#/recordings/${citation.recording_id}${citation.start !== null ? `?t=${citation.start}` : ''}`;
}

/** One citation: a link to another recording, or a button seeking the player here. */
export function CiteLink(props: { n: number; target: CiteTarget | undefined; onCite: (target: CiteTarget) => void; children?: ComponentChildren }) {
  const { n, target, onCite } = props;
  const { t } = useI18n();
  const label = t('chat.cite', { n, time: clock(target?.start) });
  if (!target) return <span class="cite">[{n}]</span>;
  if (target.href) {
    return (
      <a class="cite" href={target.href} aria-label={label} data-segment-id={target.segmentId}>
        {props.children ?? `[${n}]`}
      </a>
    );
  }
  return (
    <button type="button" class="cite" aria-label={label} data-segment-id={target.segmentId} onClick={() => onCite(target)}>
      {props.children ?? `[${n}]`}
    </button>
  );
}

/** An answer with its `[n]` markers as citation links. */
export function CitedText(props: { content: string; targets: Map<number, CiteTarget>; onCite: (target: CiteTarget) => void }) {
  return (
    <>
      {answerParts(props.content).map((part, i) => (
        <Fragment key={i}>{'text' in part ? part.text : <CiteLink n={part.cite} target={props.targets.get(part.cite)} onCite={props.onCite} />}</Fragment>
      ))}
    </>
  );
}
