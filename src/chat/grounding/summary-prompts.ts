/**
 * The messages of the summary calls: one call for a whole transcript, one per part (map), and
 * merges of partial summaries (reduce).
 */

import type { LlmMessage } from '../providers/provider.js';
import { languageLabel } from './prompts.js';
import type { PartialSummary } from './summary-parse.js';

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

export function summaryMessages(title: string, language: string | null | undefined, block: string): LlmMessage[] {
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

export function mapMessages(
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

export function renderPartial(partial: PartialSummary, part: number): string {
  const body = JSON.stringify({
    summary: partial.summary,
    key_points: partial.key_points,
    action_items: partial.action_items,
  });
  return `<part n="${part}">\n${body}\n</part>`;
}

export function reduceMessages(title: string, language: string | null | undefined, rendered: string[]): LlmMessage[] {
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
