import type { EngineSegment } from './engine.js';
import type { NativeTranscribeResult } from './whisper-native.js';

/** Characters of the preceding text handed to the next window as its prompt (~100 tokens). */
const PROMPT_CARRY_CHARS = 400;

/** The user's prompt, then the end of the text so far (whisper.cpp's own context between windows). */
export function promptFor(userPrompt: string | undefined, segments: EngineSegment[]): string | undefined {
  let carried = '';
  for (let i = segments.length - 1; i >= 0 && carried.length < PROMPT_CARRY_CHARS; i--) {
    carried = `${segments[i]!.text} ${carried}`;
  }
  carried = carried.trim();
  if (carried.length > PROMPT_CARRY_CHARS) {
    carried = carried.slice(carried.length - PROMPT_CARRY_CHARS).replace(/^\S*\s/, '');
  }
  const parts = [userPrompt?.trim(), carried].filter((part): part is string => !!part);
  return parts.length > 0 ? parts.join(' ') : undefined;
}

/**
 * Native segments (milliseconds within the call) → seconds in the file, clamped to the window. The
 * addon reports only text and times (no tokens, log-probabilities or no-speech probability), so the
 * segments carry no scores and verbose_json shows them as null.
 */
export function toSegments(result: NativeTranscribeResult, offsetSec: number, endSec: number): EngineSegment[] {
  const segments: EngineSegment[] = [];
  for (const raw of result.segments) {
    const text = raw.text.trim();
    if (text === '') continue;
    const clamp = (ms: number) => Math.min(endSec, Math.max(offsetSec, offsetSec + ms / 1000));
    const start = clamp(raw.t0);
    const end = Math.max(start, clamp(raw.t1));
    segments.push({ start: round3(start), end: round3(end), text });
  }
  return segments;
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
