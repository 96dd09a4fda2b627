/**
 * Diarizing models behind the openai engine (OpenAI's gpt-4o-transcribe-diarize, or a compatible
 * server's): they answer `diarized_json`, segments with a speaker each, and refuse the prompt and
 * timestamp granularities the other models take.
 */
import type { TranscriptionCreateParamsNonStreaming } from 'openai/resources/audio/transcriptions';
import type { SttConfig } from '../../config.js';
import type { EngineSegment, SpeakerHints } from './engine.js';

/** Whether `model` answers diarized_json: its name says so, or STT_DIARIZE_MODELS lists it. */
export function isDiarizingModel(model: string, config: Pick<SttConfig['openai'], 'diarizeModels'>): boolean {
  return /diarize/i.test(model) || (config.diarizeModels ?? []).includes(model);
}

/**
 * The request for one upload. `chunking_strategy: auto` is required by OpenAI for audio over 30 s
 * and harmless below it; prompts and granularities would be refused, so they are never sent.
 */
export function diarizedParams(
  file: TranscriptionCreateParamsNonStreaming['file'],
  model: string,
  language: string | undefined,
  hints: SpeakerHints | undefined,
): TranscriptionCreateParamsNonStreaming<'diarized_json'> {
  return {
    file,
    model,
    response_format: 'diarized_json',
    chunking_strategy: 'auto',
    ...(language ? { language } : {}),
    ...(hints ? { known_speaker_names: hints.names, known_speaker_references: hints.references } : {}),
  };
}

function finiteNumber(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/**
 * Maps one diarized_json response to segments in the input's time (adding `offset`), clamped to the
 * chunk's span, each with the speaker the provider named. Labels are the provider's for this request:
 * with known speakers they are their names; otherwise A, B, … may not mean the same voice in the
 * next chunk of a long file.
 */
export function mapDiarized(
  response: unknown,
  offset: number,
  chunkDuration: number,
): { segments: EngineSegment[]; text: string } {
  const body = (typeof response === 'string' ? { text: response } : (response ?? {})) as { text?: unknown; segments?: unknown };
  const clamp = (t: number) => Math.min(offset + chunkDuration, Math.max(offset, offset + t));
  const text = typeof body.text === 'string' ? body.text.trim() : '';
  const segments: EngineSegment[] = [];
  if (Array.isArray(body.segments)) {
    for (const raw of body.segments as unknown[]) {
      const s = (raw ?? {}) as { start?: unknown; end?: unknown; text?: unknown; speaker?: unknown };
      const start = finiteNumber(s.start);
      const end = finiteNumber(s.end);
      const segmentText = typeof s.text === 'string' ? s.text.trim() : '';
      if (start === null || end === null || segmentText === '') continue;
      const from = clamp(start);
      const speaker = typeof s.speaker === 'string' ? s.speaker.replace(/\s+/g, ' ').trim() : '';
      segments.push({ start: from, end: Math.max(from, clamp(end)), text: segmentText, ...(speaker ? { speaker } : {}) });
    }
    segments.sort((a, b) => a.start - b.start);
  }
  if (segments.length === 0 && text !== '') {
    // A server that left segments out: the chunk as one segment, nobody named.
    segments.push({ start: offset, end: offset + chunkDuration, text });
  }
  return { segments, text: text !== '' ? text : segments.map((s) => s.text).join(' ') };
}
