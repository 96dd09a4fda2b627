import type { SttConfig } from '../config.js';
import type { FieldError } from '../http/errors.js';
import { invalidForm, isLanguageTag } from '../recordings/audio-form.js';
import type { SpeakerHints } from '../transcription/engines/engine.js';
import { OUTPUT_FORMATS } from '../transcription/formats.js';
import { checkSpeakerHints } from '../transcription/speaker-hints.js';
import { vadSettings, type VadSettings } from '../vad/settings.js';
import { chooseModel, type ModelChoice } from './models.js';

/** OpenAI's `chunking_strategy`: `auto`, or server VAD with any of its three settings overridden. */
export type ChunkingStrategy =
  | { type: 'auto' }
  | { type: 'server_vad'; threshold?: number; prefixPaddingMs?: number; silenceDurationMs?: number };

/** OpenAI's response formats: ours, and diarized_json (segments with speakers). */
export const OPENAI_FORMATS = [...OUTPUT_FORMATS, 'diarized_json'] as const;
export type OpenAIFormat = (typeof OPENAI_FORMATS)[number];

/** What a `POST /v1/audio/transcriptions` form asks for, checked. */
export interface OpenAIRequest {
  choice: ModelChoice;
  language?: string;
  prompt?: string;
  format: OpenAIFormat;
  granularities: Set<string>;
  stream: boolean;
  /** Null when the audio is to be transcribed as one block (OpenAI's default). */
  chunking: ChunkingStrategy | null;
  /** `known_speaker_names[]` with `known_speaker_references[]`; null when none were sent. */
  speakers: SpeakerHints | null;
}

/** The response formats a stream can stand for: events carry text only. */
const STREAMABLE: OpenAIFormat[] = ['json', 'text'];

const VAD_KEYS = ['type', 'threshold', 'prefix_padding_ms', 'silence_duration_ms'];
/** Longest padding or silence accepted, in ms: past it, server VAD would no longer split anything. */
const MAX_VAD_MS = 10_000;

/**
 * `auto`, a JSON object (`curl -F 'chunking_strategy={"type":"server_vad",…}'`), or the bracketed
 * fields OpenAI's Node SDK sends for an object (`chunking_strategy[type]=server_vad`, …).
 */
function readChunking(fields: Map<string, string[]>, problems: FieldError[]): ChunkingStrategy | null {
  const field = 'chunking_strategy';
  const bad = (message: string) => {
    problems.push({ field, message });
    return null;
  };
  let raw: Record<string, unknown> | null = null;
  const plain = fields.get(field)?.at(-1)?.trim();
  if (plain !== undefined && plain !== '') {
    if (plain === 'auto') return { type: 'auto' };
    if (!plain.startsWith('{')) return bad('must be "auto" or a server_vad object');
    try {
      const parsed: unknown = JSON.parse(plain);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return bad('must be "auto" or a server_vad object');
      raw = parsed as Record<string, unknown>;
    } catch {
      return bad('is not valid JSON');
    }
  } else {
    for (const [name, values] of fields) {
      const key = /^chunking_strategy\[([^\]]*)\]$/.exec(name)?.[1];
      if (key !== undefined) (raw ??= {})[key] = values.at(-1)?.trim();
    }
  }
  if (raw === null) return null;
  const unknown = Object.keys(raw).filter((key) => !VAD_KEYS.includes(key));
  if (unknown.length > 0) return bad(`has unknown keys: ${unknown.join(', ')}`);
  if (raw.type !== 'server_vad') return bad('type must be "server_vad"');
  // Bracketed fields arrive as strings, a JSON body as numbers; both mean the same number.
  const number = (key: string): number | undefined | null => {
    const value = raw[key];
    if (value === undefined || value === null) return undefined;
    const n = typeof value === 'number' ? value : typeof value === 'string' && value !== '' ? Number(value) : NaN;
    return Number.isFinite(n) ? n : null;
  };
  const threshold = number('threshold');
  const prefixPaddingMs = number('prefix_padding_ms');
  const silenceDurationMs = number('silence_duration_ms');
  if (threshold === null || (threshold !== undefined && (threshold < 0 || threshold > 1))) {
    return bad('threshold must be a number from 0 to 1');
  }
  for (const [key, value] of [['prefix_padding_ms', prefixPaddingMs], ['silence_duration_ms', silenceDurationMs]] as const) {
    if (value === null || (value !== undefined && !(Number.isInteger(value) && value >= 0 && value <= MAX_VAD_MS))) {
      return bad(`${key} must be a whole number of milliseconds from 0 to ${MAX_VAD_MS}`);
    }
  }
  return {
    type: 'server_vad',
    ...(threshold !== undefined ? { threshold } : {}),
    ...(prefixPaddingMs !== undefined ? { prefixPaddingMs: prefixPaddingMs as number } : {}),
    ...(silenceDurationMs !== undefined ? { silenceDurationMs: silenceDurationMs as number } : {}),
  };
}

/** The voice activity detection a chunking strategy asks for; `auto` means the defaults. */
export function vadOf(chunking: ChunkingStrategy | null): VadSettings | null {
  if (!chunking) return null;
  if (chunking.type === 'auto') return vadSettings();
  const { type: _type, ...settings } = chunking;
  return vadSettings(settings);
}

function readBoolean(value: string | undefined, field: string, problems: FieldError[]): boolean {
  if (value === undefined || value === '') return false;
  const lower = value.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  problems.push({ field, message: 'must be true or false' });
  return false;
}

/** An array field as OpenAI's SDKs send it (`name[]`, repeated), or repeated under its plain name (curl). */
function many(fields: Map<string, string[]>, name: string): string[] | undefined {
  const values = [...(fields.get(`${name}[]`) ?? []), ...(fields.get(name) ?? [])];
  return values.length > 0 ? values : undefined;
}

/** Checks the form's fields; a 400 naming the first bad field (OpenAI's `param`) otherwise. */
export function checkFields(fields: Map<string, string[]>, stt: SttConfig): OpenAIRequest {
  const problems: FieldError[] = [];
  const one = (name: string) => fields.get(name)?.at(-1)?.trim();
  const modelName = one('model');
  const choice = modelName ? chooseModel(modelName, stt) : null;
  if (!modelName) problems.push({ field: 'model', message: 'is required' });
  else if (!choice) problems.push({ field: 'model', message: `"${modelName}" is not a model here; see GET /v1/models` });
  const format = (one('response_format') || 'json') as OpenAIFormat;
  if (!OPENAI_FORMATS.includes(format)) {
    problems.push({ field: 'response_format', message: `must be one of ${OPENAI_FORMATS.join(', ')}` });
  }
  const stream = readBoolean(one('stream'), 'stream', problems);
  if (stream && OPENAI_FORMATS.includes(format) && !STREAMABLE.includes(format)) {
    problems.push({ field: 'response_format', message: `must be json or text when stream is true, not ${format}` });
  }
  const language = one('language') || undefined;
  if (language !== undefined && !isLanguageTag(language)) {
    problems.push({ field: 'language', message: 'must be an ISO-639-1 code such as "en"' });
  }
  const temperature = one('temperature');
  if (temperature !== undefined && temperature !== '' && !(Number(temperature) >= 0 && Number(temperature) <= 1)) {
    problems.push({ field: 'temperature', message: 'must be between 0 and 1' });
  }
  const granularities = new Set([...(fields.get('timestamp_granularities[]') ?? []), ...(fields.get('timestamp_granularities') ?? [])]);
  for (const g of granularities) {
    if (g !== 'word' && g !== 'segment') problems.push({ field: 'timestamp_granularities[]', message: 'must be word or segment' });
  }
  const chunking = readChunking(fields, problems);
  const speakers = checkSpeakerHints(many(fields, 'known_speaker_names'), many(fields, 'known_speaker_references'), {
    names: 'known_speaker_names[]',
    references: 'known_speaker_references[]',
  });
  problems.push(...speakers.problems);
  if (problems.length > 0) throw invalidForm(problems);
  return { choice: choice!, language, prompt: one('prompt') || undefined, format, granularities, stream, chunking, speakers: speakers.hints };
}
