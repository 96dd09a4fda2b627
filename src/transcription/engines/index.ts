import type { EngineName, SttConfig } from '../../config.js';
import type { PcmAudio, TranscribeOptions, TranscriptionEngine } from './engine.js';
import { OpenAIEngine } from './openai.js';
import { SphinxEngine } from './sphinx.js';

export interface EngineSet {
  readonly defaultEngine: EngineName;
  get(name: EngineName): TranscriptionEngine;
}

export interface EngineLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Engines are cheap to construct; each loads its model or binary on first use. */
export function createEngines(stt: SttConfig, log: EngineLog): EngineSet {
  const engines: Record<EngineName, TranscriptionEngine> = {
    whisper: new LazyWhisper(stt.whisper, (message: string) => log.info({ engine: 'whisper' }, message)),
    openai: new OpenAIEngine(stt.openai),
    sphinx: new SphinxEngine(stt.sphinx),
  };
  return { defaultEngine: stt.defaultEngine, get: (name) => engines[name] };
}

/** A fixed set, for tests that bring their own engine. */
export function engineSet(defaultEngine: EngineName, engines: Partial<Record<EngineName, TranscriptionEngine>>): EngineSet {
  return {
    defaultEngine,
    get: (name) => {
      const engine = engines[name];
      if (!engine) throw new Error(`engine ${name} is not part of this set`);
      return engine;
    },
  };
}

/** Defers loading the whisper module (and its native addon) until a whisper job actually runs. */
class LazyWhisper implements TranscriptionEngine {
  readonly name = 'whisper' as const;
  private engine: Promise<TranscriptionEngine> | null = null;

  constructor(
    private readonly config: SttConfig['whisper'],
    private readonly log: (message: string) => void,
  ) {}

  async transcribe(audio: PcmAudio, options: TranscribeOptions) {
    this.engine ??= import('./whisper.js').then((m) => new m.WhisperEngine(this.config, { log: this.log }));
    return (await this.engine).transcribe(audio, options);
  }
}
