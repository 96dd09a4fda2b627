/** Subtitle and text renderings of a transcript, shaped like OpenAI's response formats. */
import { Type, type Static } from 'typebox';
import { SegmentScores } from './schemas.js';

export interface FormatSegment extends Partial<Static<typeof SegmentScores>> {
  start: number | null;
  end: number | null;
  text: string;
  words?: { word: string; start: number; end: number }[] | null;
  speaker?: string | null;
}

export interface FormatInput {
  text: string;
  language: string | null;
  duration: number | null;
  segments: FormatSegment[];
}

export const OUTPUT_FORMATS = ['json', 'text', 'srt', 'vtt', 'verbose_json'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const CONTENT_TYPES: Record<Exclude<OutputFormat, 'json' | 'verbose_json'>, string> = {
  text: 'text/plain; charset=utf-8',
  srt: 'application/x-subrip; charset=utf-8',
  vtt: 'text/vtt; charset=utf-8',
};

/** Subtitles need times; a transcript uploaded as text has none. */
export function hasTimes(input: FormatInput): boolean {
  return input.segments.length > 0 && input.segments.every((s) => s.start !== null && s.end !== null);
}

function clock(seconds: number, separator: ',' | '.'): string {
  const totalMs = Math.max(0, Math.round(seconds * 1000));
  const ms = totalMs % 1000;
  const s = Math.floor(totalMs / 1000) % 60;
  const m = Math.floor(totalMs / 60_000) % 60;
  const h = Math.floor(totalMs / 3_600_000);
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(h)}:${pad(m)}:${pad(s)}${separator}${pad(ms, 3)}`;
}

/** Subtitle cues must not contain blank lines: they end a cue. */
function cueText(text: string): string {
  return text.trim().replace(/\n\s*\n/g, '\n');
}

/** SRT has no voice markup: the speaker leads the text, as `Ana: text`. */
function srtText(s: FormatSegment): string {
  return cueText(s.speaker ? `${oneLineLabel(s.speaker)}: ${s.text}` : s.text);
}

export function toSrt(input: FormatInput): string {
  return input.segments
    .map((s, i) => `${i + 1}\n${clock(s.start ?? 0, ',')} --> ${clock(s.end ?? 0, ',')}\n${srtText(s)}\n`)
    .join('\n');
}

function oneLineLabel(speaker: string): string {
  return speaker.replace(/\s+/g, ' ').trim();
}

/** A WebVTT voice span, `<v Ana>`; its annotation may hold neither a line break, `&` nor `>`. */
function voiceTag(speaker: string): string {
  return `<v ${oneLineLabel(speaker).replace(/&/g, '&amp;').replace(/>/g, '&gt;')}>`;
}

export function toVtt(input: FormatInput): string {
  const cues = input.segments.map(
    (s) =>
      `${clock(s.start ?? 0, '.')} --> ${clock(s.end ?? 0, '.')}\n${s.speaker ? voiceTag(s.speaker) : ''}${cueText(s.text).replace(/-->/g, '->')}\n`,
  );
  return `WEBVTT\n\n${cues.join('\n')}`;
}

export function toText(input: FormatInput): string {
  return `${input.text.trim()}\n`;
}

/** OpenAI names the language in English ("spanish"); we store ISO codes. */
export function languageName(code: string | null): string {
  if (!code) return 'unknown';
  try {
    return (new Intl.DisplayNames(['en'], { type: 'language' }).of(code) ?? code).toLowerCase();
  } catch {
    return code;
  }
}

const VerboseWord = Type.Object({ word: Type.String(), start: Type.Number(), end: Type.Number() });

/** One segment of OpenAI's verbose_json; the scores are null where the engine reported none. */
export const VerboseSegment = Type.Object({
  id: Type.Integer({ minimum: 0, description: "The segment's position in the transcript, from 0" }),
  seek: Type.Integer(),
  start: Type.Number(),
  end: Type.Number(),
  text: Type.String(),
  tokens: Type.Array(Type.Integer()),
  ...SegmentScores.properties,
  speaker: Type.Optional(Type.String({ description: 'Who spoke; absent where the transcript names nobody' })),
});

/** OpenAI's verbose_json transcription. */
export const VerboseTranscription = Type.Object({
  task: Type.Union([Type.Literal('transcribe'), Type.Literal('translate')]),
  language: Type.String({ description: 'In English, e.g. "spanish"; "unknown" when not detected' }),
  duration: Type.Number(),
  text: Type.String(),
  segments: Type.Array(VerboseSegment),
  words: Type.Array(VerboseWord),
});
export type VerboseTranscription = Static<typeof VerboseTranscription>;

/**
 * The JSON answer of POST /v1/audio/transcriptions: `json` is just the text; `verbose_json` adds the
 * rest, with segments and words as timestamp_granularities[] ask.
 */
export const OpenAITranscriptionJson = Type.Object({
  text: Type.String(),
  task: Type.Optional(VerboseTranscription.properties.task),
  language: Type.Optional(VerboseTranscription.properties.language),
  duration: Type.Optional(VerboseTranscription.properties.duration),
  segments: Type.Optional(VerboseTranscription.properties.segments),
  words: Type.Optional(VerboseTranscription.properties.words),
});

export function toVerboseJson(input: FormatInput, task: 'transcribe' | 'translate' = 'transcribe'): VerboseTranscription {
  const words = input.segments.flatMap((s) => s.words ?? []);
  return {
    task,
    language: languageName(input.language),
    // A reduce, not Math.max(...spread): a long transcript's segments would overflow the call stack.
    duration: input.duration ?? input.segments.reduce((latest, s) => Math.max(latest, s.end ?? 0), 0),
    text: input.text,
    segments: input.segments.map((s, id) => ({
      id,
      seek: 0,
      start: s.start ?? 0,
      end: s.end ?? 0,
      text: s.text,
      tokens: [],
      temperature: s.temperature ?? null,
      avg_logprob: s.avg_logprob ?? null,
      compression_ratio: s.compression_ratio ?? null,
      no_speech_prob: s.no_speech_prob ?? null,
      ...(s.speaker ? { speaker: s.speaker } : {}),
    })),
    words: words.map((w) => ({ word: w.word, start: w.start, end: w.end })),
  };
}
