import type { EngineName, SttConfig } from '../config.js';
import { isDiarizingModel } from '../transcription/engines/openai-diarized.js';

/** What an OpenAI-style `model` asks of us: which engine, and which of its models. */
export interface ModelChoice {
  engine: EngineName;
  model?: string;
}

/** OpenAI's own speech model names: clients send them unchanged, and they mean "your default". */
const OPENAI_ALIASES = ['whisper-1', 'gpt-4o-transcribe', 'gpt-4o-mini-transcribe'];
/** OpenAI's diarizing model: "your default, with speakers where it can tell them". */
const DIARIZE_ALIAS = 'gpt-4o-transcribe-diarize';

/**
 * Maps a `model` field to an engine: OpenAI's names → the configured default engine;
 * `sphinx`; `whisper` or `whisper-<model>` (e.g. whisper-base.en); `openai` or `openai/<model>`.
 * Null when the name means nothing here.
 */
export function chooseModel(model: string, stt: SttConfig): ModelChoice | null {
  const name = model.trim();
  if (OPENAI_ALIASES.includes(name)) return { engine: stt.defaultEngine };
  if (name === DIARIZE_ALIAS) {
    // The openai engine diarizes with its configured model if that is a diarizing one, else with
    // OpenAI's; other engines name nobody, and diarized_json labels their segments A.
    if (stt.defaultEngine !== 'openai') return { engine: stt.defaultEngine };
    return isDiarizingModel(stt.openai.model, stt.openai) ? { engine: 'openai' } : { engine: 'openai', model: DIARIZE_ALIAS };
  }
  if (name === 'sphinx' || name === 'pocketsphinx') return { engine: 'sphinx' };
  if (name === 'whisper') return { engine: 'whisper' };
  const whisper = /^whisper-([a-z0-9][a-z0-9.-]*)$/.exec(name);
  if (whisper) return { engine: 'whisper', model: whisper[1] };
  if (name === 'openai') return { engine: 'openai' };
  const remote = /^openai\/(.+)$/.exec(name);
  if (remote) return { engine: 'openai', model: remote[1] };
  return null;
}

export function listedModels(stt: SttConfig): string[] {
  return [
    ...OPENAI_ALIASES,
    DIARIZE_ALIAS,
    'sphinx',
    'whisper',
    `whisper-${stt.whisper.model.includes('/') ? 'custom' : stt.whisper.model}`,
    ...(stt.openai.apiKey || stt.openai.baseUrl ? ['openai', `openai/${stt.openai.model}`] : []),
  ].filter((id, i, all) => all.indexOf(id) === i && id !== 'whisper-custom');
}
