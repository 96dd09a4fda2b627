/**
 * A transcription session's settings in OpenAI's shape (`session.update` with
 * `type: "transcription"`): defaults, validation of an update, and the object echoed back in
 * session.created / session.updated.
 */
import type { SttConfig } from '../config.js';
import { chooseModel, type ModelChoice } from '../openai-compat/models.js';
import { isLanguageTag } from '../recordings/audio-form.js';
import { AUDIO_FORMATS, audioFormat, type AudioFormatType } from './audio-format.js';

export interface ServerVad {
  type: 'server_vad';
  threshold: number;
  prefix_padding_ms: number;
  silence_duration_ms: number;
}

export interface SessionSettings {
  format: AudioFormatType;
  model: string;
  choice: ModelChoice;
  language: string | null;
  prompt: string | null;
  turnDetection: ServerVad | null;
  noiseReduction: { type: 'near_field' | 'far_field' } | null;
  /** Kept as a recording when the socket closes. */
  store: boolean;
}

/** OpenAI's server_vad defaults. */
export const DEFAULT_VAD: ServerVad = { type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 500 };

export function defaultSettings(stt: SttConfig, store: boolean): SessionSettings {
  return {
    format: 'audio/pcm',
    model: 'whisper-1',
    choice: { engine: stt.defaultEngine },
    language: null,
    prompt: null,
    turnDetection: { ...DEFAULT_VAD },
    noiseReduction: null,
    store,
  };
}

/** A rejected update: OpenAI's `invalid_value` error with the offending parameter. */
export class InvalidSession extends Error {
  constructor(
    message: string,
    readonly param: string,
    readonly code = 'invalid_value',
  ) {
    super(message);
  }
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function objectAt(parent: Json, key: string, param: string): Json | undefined {
  const value = parent[key];
  if (value === undefined) return undefined;
  if (!isObject(value)) throw new InvalidSession(`${param} must be an object`, param, 'invalid_type');
  return value;
}

function numberIn(value: unknown, param: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new InvalidSession(`${param} must be a number from ${min} to ${max}`, param);
  }
  return value;
}

function turnDetection(value: unknown, current: ServerVad | null): ServerVad | null {
  const param = 'session.audio.input.turn_detection';
  if (value === null) return null;
  if (!isObject(value)) throw new InvalidSession(`${param} must be an object or null`, param, 'invalid_type');
  if (value.type !== 'server_vad') {
    throw new InvalidSession(`${param}.type must be "server_vad" here (semantic_vad is not supported)`, `${param}.type`);
  }
  const base = current ?? DEFAULT_VAD;
  return {
    type: 'server_vad',
    threshold: value.threshold === undefined ? base.threshold : numberIn(value.threshold, `${param}.threshold`, 0, 1),
    prefix_padding_ms:
      value.prefix_padding_ms === undefined
        ? base.prefix_padding_ms
        : numberIn(value.prefix_padding_ms, `${param}.prefix_padding_ms`, 0, 10_000),
    silence_duration_ms:
      value.silence_duration_ms === undefined
        ? base.silence_duration_ms
        : numberIn(value.silence_duration_ms, `${param}.silence_duration_ms`, 0, 10_000),
  };
}

function stringOrNull(value: unknown, param: string): string | null {
  if (value === null || value === '') return null;
  if (typeof value !== 'string') throw new InvalidSession(`${param} must be a string`, param, 'invalid_type');
  return value;
}

/**
 * The settings after `session` (the `session` field of a session.update) is applied; only the
 * fields present change. Throws InvalidSession; `formatLocked` once audio has been appended.
 */
export function applyUpdate(settings: SessionSettings, session: unknown, stt: SttConfig, formatLocked: boolean): SessionSettings {
  if (!isObject(session)) throw new InvalidSession('session must be an object', 'session', 'invalid_type');
  if (session.type !== undefined && session.type !== 'transcription') {
    throw new InvalidSession('Only transcription sessions are served here: session.type must be "transcription"', 'session.type');
  }
  const next: SessionSettings = { ...settings };
  if (session.store !== undefined) {
    if (typeof session.store !== 'boolean') throw new InvalidSession('session.store must be a boolean', 'session.store', 'invalid_type');
    next.store = session.store;
  }
  const input = objectAt(objectAt(session, 'audio', 'session.audio') ?? {}, 'input', 'session.audio.input');
  if (!input) return next;
  const format = objectAt(input, 'format', 'session.audio.input.format');
  if (format?.type !== undefined) {
    const type = format.type as AudioFormatType;
    if (!AUDIO_FORMATS.includes(type)) {
      throw new InvalidSession(`format must be one of ${AUDIO_FORMATS.join(', ')}`, 'session.audio.input.format.type');
    }
    if (type === 'audio/pcm' && format.rate !== undefined && format.rate !== 24000) {
      throw new InvalidSession('audio/pcm is 24000 Hz only', 'session.audio.input.format.rate');
    }
    if (type !== next.format && formatLocked) {
      throw new InvalidSession('The audio format cannot change once audio has been sent', 'session.audio.input.format.type');
    }
    next.format = type;
  }
  const transcription = objectAt(input, 'transcription', 'session.audio.input.transcription');
  if (transcription) {
    if (transcription.model !== undefined) {
      const model = stringOrNull(transcription.model, 'session.audio.input.transcription.model');
      const choice = model ? chooseModel(model, stt) : null;
      if (!model || !choice) {
        throw new InvalidSession(`"${String(model)}" is not a model here; see GET /v1/models`, 'session.audio.input.transcription.model');
      }
      next.model = model;
      next.choice = choice;
    }
    if (transcription.language !== undefined) {
      const language = stringOrNull(transcription.language, 'session.audio.input.transcription.language');
      if (language !== null && !isLanguageTag(language)) {
        throw new InvalidSession('language must be an ISO-639-1 code such as "en"', 'session.audio.input.transcription.language');
      }
      next.language = language;
    }
    if (transcription.prompt !== undefined) next.prompt = stringOrNull(transcription.prompt, 'session.audio.input.transcription.prompt');
  }
  if ('turn_detection' in input) next.turnDetection = turnDetection(input.turn_detection, settings.turnDetection);
  if ('noise_reduction' in input) {
    const value = input.noise_reduction;
    // Accepted for compatibility; the audio is not filtered (the VAD copes with ordinary noise).
    if (value === null) next.noiseReduction = null;
    else if (isObject(value) && (value.type === 'near_field' || value.type === 'far_field')) next.noiseReduction = { type: value.type };
    else throw new InvalidSession('noise_reduction.type must be near_field or far_field', 'session.audio.input.noise_reduction.type');
  }
  return next;
}

/**
 * The session object of session.created / session.updated. `recording_id` is ours: the id the
 * session's recording will have once it is stored at the end (null when `store` is off), since
 * nothing can be sent on the socket after the client closes it.
 */
export function describeSession(id: string, settings: SessionSettings, expiresAt: number, recordingId: string): Json {
  return {
    type: 'transcription',
    object: 'realtime.transcription_session',
    id,
    expires_at: expiresAt,
    audio: {
      input: {
        format: audioFormat(settings.format),
        transcription: { model: settings.model, language: settings.language, prompt: settings.prompt ?? '' },
        turn_detection: settings.turnDetection,
        noise_reduction: settings.noiseReduction,
      },
    },
    include: [],
    store: settings.store,
    recording_id: settings.store ? recordingId : null,
  };
}
