/** Prompts for answering questions about one recording from its transcript. */

import type { LlmMessage } from '../providers/provider.js';

/** "Spanish" for `es`; the code itself when the runtime does not know it; null for none. */
export function languageLabel(code: string | null | undefined): string | null {
  if (!code) return null;
  try {
    return new Intl.DisplayNames(['en'], { type: 'language' }).of(code) ?? code;
  } catch {
    return code;
  }
}

export interface GroundedSystemPromptInput {
  /** The recording's title, shown to the model as is. */
  title: string;
  /** The transcript's language, an ISO code such as `es`. */
  language?: string | null;
  /** `retrieved` when only excerpts of the transcript are shown (see selectContext). */
  mode: 'whole' | 'retrieved';
}

export function groundedSystemPrompt({ title, language, mode }: GroundedSystemPromptInput): string {
  const label = languageLabel(language);
  const lines = [
    'You answer questions about a recording, using only its transcript.',
    `Recording title: ${JSON.stringify(title.trim() || 'Untitled')}`,
    ...(label ? [`The recording is in ${label}.`] : []),
    '',
    'The transcript is given below as numbered segments, one per line: `[n] (start–end) text`, or `[n] Speaker (start–end): text` where the speaker is known.',
    mode === 'retrieved'
      ? 'Only excerpts of the transcript are shown: the segments most relevant to the question, with their neighbours. Other parts of the recording exist but are not shown; if the answer may lie outside the excerpts, say so.'
      : 'The whole transcript is shown.',
    '',
    'Rules:',
    '- Base every claim on the transcript segments. Do not add facts from outside the transcript.',
    '- Cite the segments that support each claim with their numbers in square brackets, right after the claim: [3], or several as [3][4]. Only cite numbers that appear in the transcript.',
    '- If the transcript does not contain the answer, say clearly that the transcript does not say, rather than guessing.',
    '- Transcripts come from speech recognition and may contain errors; quote carefully.',
    '- Answer in the language of the question, unless the user asks for another language.',
  ];
  return lines.join('\n');
}

export interface GroundedMessagesInput {
  /** Usually groundedSystemPrompt(...). */
  system: string;
  /** Usually formatSegments(selected segments). */
  transcriptBlock: string;
  /** Earlier turns, oldest first (see trimHistory). */
  history: readonly LlmMessage[];
  question: string;
}

/**
 * One system message holding the instructions and the transcript, then the earlier turns, then
 * the question as the last user message.
 */
export function buildGroundedMessages({
  system,
  transcriptBlock,
  history,
  question,
}: GroundedMessagesInput): LlmMessage[] {
  const block = transcriptBlock.trim() || '(The transcript is empty.)';
  return [
    { role: 'system', content: `${system.trim()}\n\n<transcript>\n${block}\n</transcript>` },
    ...history.map((message) => ({ role: message.role, content: message.content })),
    { role: 'user', content: question },
  ];
}
