/** OpenAI's `diarized_json` transcription, from any engine's transcript. */
import { Type, type Static } from 'typebox';
import type { FormatInput } from '../transcription/formats.js';

/**
 * The label of segments whose engine named nobody (every engine but a diarizing one): OpenAI labels
 * the speakers it tells apart A, B, … in order, so one voice heard throughout is A.
 */
export const UNNAMED_SPEAKER = 'A';

export const DiarizedSegment = Type.Object({
  type: Type.Literal('transcript.text.segment'),
  id: Type.String({ description: 'seg_<position from 0>' }),
  start: Type.Number(),
  end: Type.Number(),
  text: Type.String(),
  speaker: Type.String({
    description: `Who spoke: a known speaker's name, the engine's own label (A, B, …), or ${UNNAMED_SPEAKER} where the engine does not diarize`,
  }),
});

export const DiarizedTranscription = Type.Object({
  task: Type.Literal('transcribe'),
  duration: Type.Number(),
  text: Type.String(),
  segments: Type.Array(DiarizedSegment),
  usage: Type.Object({ type: Type.Literal('duration'), seconds: Type.Number() }),
});
export type DiarizedTranscription = Static<typeof DiarizedTranscription>;

export function toDiarizedJson(input: FormatInput): DiarizedTranscription {
  // A reduce, not Math.max(...spread): a long transcript's segments would overflow the call stack.
  const duration = input.duration ?? input.segments.reduce((latest, s) => Math.max(latest, s.end ?? 0), 0);
  return {
    task: 'transcribe',
    duration,
    text: input.text,
    segments: input.segments.map((s, i) => ({
      type: 'transcript.text.segment',
      id: `seg_${i}`,
      start: s.start ?? 0,
      end: s.end ?? 0,
      text: s.text,
      speaker: s.speaker ?? UNNAMED_SPEAKER,
    })),
    // As the streamed transcript.text.done reports it: the audio's length, to the millisecond.
    usage: { type: 'duration', seconds: Math.round(duration * 1000) / 1000 },
  };
}
