/**
 * Grounding for a question across all of a user's transcripts (scope "all"): the segments that
 * match it best, from whichever recordings, numbered [1]…[n] for this prompt only.
 */

import type { Tx } from '../../db/client.js';
import type { TranscriptReader } from '../../transcription/reader.js';
import type { Grounding } from '../prompt-builder.js';

/** How many matching segments go to the model; few enough to fit any sensible LLM_CONTEXT_TOKENS. */
export const ACROSS_SEGMENTS = 20;

/**
 * Ranking within one transcript is what the prompt builder falls back on when the passages do not
 * fit; there is no such transcript here, so it ranks by term overlap (no rows match this id).
 */
const NO_TRANSCRIPT = '00000000-0000-0000-0000-000000000000';

/** Null when nothing matches: the question is then answered without a transcript. */
export async function groundingAcross(tx: Tx, reader: TranscriptReader, question: string): Promise<Grounding | null> {
  const hits = await reader.rankAcross(tx, question, ACROSS_SEGMENTS);
  if (hits.length === 0) return null;
  return {
    transcriptionId: NO_TRANSCRIPT,
    title: 'Passages from several recordings (each line names its recording)',
    language: null,
    // The recording's title goes where a speaker would, so the model can tell the recordings apart.
    segments: hits.map((hit, i) => ({
      id: hit.id,
      index: i + 1,
      start: hit.start,
      end: hit.end,
      text: hit.text,
      speaker: hit.speaker ? `${hit.title} — ${hit.speaker}` : hit.title,
      recordingId: hit.recordingId,
    })),
  };
}
