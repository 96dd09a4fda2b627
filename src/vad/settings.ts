/** Voice activity detection settings for batch transcription: OpenAI's server_vad knobs, in camelCase. */

import { DEFAULT_TURN_DETECTOR_OPTIONS, type TurnDetectorOptions } from './turn-detector.js';

export type VadSettings = TurnDetectorOptions;

/** OpenAI's server_vad defaults: threshold 0.5, prefix_padding_ms 300, silence_duration_ms 500. */
export const DEFAULT_VAD_SETTINGS: Readonly<VadSettings> = DEFAULT_TURN_DETECTOR_OPTIONS;

/** Fills in the defaults for the knobs a request left out. */
export function vadSettings(partial: Partial<VadSettings> = {}): VadSettings {
  return {
    threshold: partial.threshold ?? DEFAULT_VAD_SETTINGS.threshold,
    prefixPaddingMs: partial.prefixPaddingMs ?? DEFAULT_VAD_SETTINGS.prefixPaddingMs,
    silenceDurationMs: partial.silenceDurationMs ?? DEFAULT_VAD_SETTINGS.silenceDurationMs,
  };
}

/** OpenAI's server_vad knobs as requests spell them (`chunking_strategy`, `turn_detection`, our `vad`). */
export interface VadOptionsInput {
  threshold?: number;
  prefix_padding_ms?: number;
  silence_duration_ms?: number;
}

/** A request's `vad` (true, false, absent, or the knobs) as settings; null when it asked for none. */
export function vadFromRequest(value: boolean | VadOptionsInput | undefined | null): VadSettings | null {
  if (value === undefined || value === null || value === false) return null;
  if (value === true) return vadSettings();
  return vadSettings({ threshold: value.threshold, prefixPaddingMs: value.prefix_padding_ms, silenceDurationMs: value.silence_duration_ms });
}

/** Settings as responses spell them. */
export function vadView(settings: VadSettings | null): Required<VadOptionsInput> | null {
  if (!settings) return null;
  return { threshold: settings.threshold, prefix_padding_ms: settings.prefixPaddingMs, silence_duration_ms: settings.silenceDurationMs };
}
