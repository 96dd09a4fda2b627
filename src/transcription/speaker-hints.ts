/**
 * Known speakers for a diarizing engine, as OpenAI takes them: up to four names, each with a short
 * audio sample of that voice as a data URL. Checked the same way for our API (JSON arrays) and the
 * OpenAI-compatible form (`known_speaker_names[]` fields), before anything is stored.
 */
import type { FieldError } from '../http/errors.js';
import type { SpeakerHints } from './engines/engine.js';

/** OpenAI's limit. */
export const MAX_KNOWN_SPEAKERS = 4;
/** A name labels segments, VTT voice spans and SRT prefixes: a short identifier, one line. */
export const MAX_SPEAKER_NAME_CHARS = 64;
/**
 * Largest decoded sample. OpenAI wants 2–10 s of speech: 10 s of 16 kHz 16-bit mono WAV is 320 kB,
 * compressed formats far less, so this leaves room without letting a row hold megabytes per voice.
 */
export const MAX_REFERENCE_BYTES = 1024 * 1024;
/** The longest data URL that can hold MAX_REFERENCE_BYTES: base64 plus room for its header. */
export const MAX_REFERENCE_CHARS = Math.ceil(MAX_REFERENCE_BYTES / 3) * 4 + 200;
/** Room for every sample and the rest of a request: the body (or form text) limit where hints may come. */
export const MAX_HINTS_REQUEST_BYTES = MAX_KNOWN_SPEAKERS * MAX_REFERENCE_CHARS + 256 * 1024;

// The media type's parameters (`;codecs=opus`) are allowed; the payload must be base64.
const DATA_URL = /^data:audio\/[a-z0-9.+-]+(?:;[a-z0-9_.-]+=[^;,]*)*;base64,([A-Za-z0-9+/]*={0,2})$/i;
const CONTROL = /\p{Cc}/u;

export interface HintFields {
  names: string;
  references: string;
}

/** Bytes a base64 payload decodes to, padded or not. */
function decodedBytes(base64: string): number {
  const padding = base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0;
  return Math.floor(((base64.length - padding) * 3) / 4);
}

/**
 * The hints as the engine gets them, or null when none were given; problems name `fields` (our
 * body's property names, or the form's `known_speaker_names[]`). Names and references come together,
 * paired by position.
 */
export function checkSpeakerHints(
  names: string[] | undefined,
  references: string[] | undefined,
  fields: HintFields,
): { hints: SpeakerHints | null; problems: FieldError[] } {
  const problems: FieldError[] = [];
  if ((names === undefined || names.length === 0) && (references === undefined || references.length === 0)) {
    return { hints: null, problems };
  }
  if (!names?.length) problems.push({ field: fields.names, message: `is required with ${fields.references}` });
  if (!references?.length) problems.push({ field: fields.references, message: `is required with ${fields.names}` });
  if (!names?.length || !references?.length) return { hints: null, problems };
  if (names.length > MAX_KNOWN_SPEAKERS) {
    problems.push({ field: fields.names, message: `may name at most ${MAX_KNOWN_SPEAKERS} speakers` });
  }
  if (references.length !== names.length) {
    problems.push({ field: fields.references, message: `must hold one sample per name (${names.length}), not ${references.length}` });
  }
  const trimmed = names.map((name) => name.trim());
  const seen = new Set<string>();
  for (const [i, name] of trimmed.entries()) {
    if (name === '' || name.length > MAX_SPEAKER_NAME_CHARS || CONTROL.test(name)) {
      problems.push({ field: `${fields.names}[${i}]`, message: `must be 1–${MAX_SPEAKER_NAME_CHARS} characters on one line` });
    } else if (seen.has(name.toLowerCase())) {
      problems.push({ field: `${fields.names}[${i}]`, message: `repeats "${name}": each speaker once` });
    }
    seen.add(name.toLowerCase());
  }
  for (const [i, reference] of references.entries()) {
    const payload = reference.length <= MAX_REFERENCE_CHARS ? DATA_URL.exec(reference)?.[1] : undefined;
    const bytes = payload === undefined ? 0 : decodedBytes(payload);
    if (payload === undefined && reference.length > MAX_REFERENCE_CHARS) {
      problems.push({ field: `${fields.references}[${i}]`, message: `is over ${MAX_REFERENCE_BYTES} bytes of audio` });
    } else if (payload === undefined || bytes === 0) {
      problems.push({ field: `${fields.references}[${i}]`, message: 'must be a data URL of audio, data:audio/<type>;base64,<data>' });
    } else if (bytes > MAX_REFERENCE_BYTES) {
      problems.push({ field: `${fields.references}[${i}]`, message: `is over ${MAX_REFERENCE_BYTES} bytes of audio` });
    }
  }
  return problems.length > 0 ? { hints: null, problems } : { hints: { names: trimmed, references }, problems };
}
