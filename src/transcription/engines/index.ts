import type { EngineName, SttConfig } from '../../config.js';
import type { EngineResult, PcmAudio, TranscribeOptions, TranscriptionEngine } from './engine.js';
import { SphinxEngine } from './sphinx.js';

export interface EngineSet {
  readonly defaultEngine: EngineName;
  get(name: EngineName): TranscriptionEngine;
}

export interface EngineLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * Engines are cheap to construct; each loads its model or binary on first use. The whisper and
 * openai engines' modules (the native addon, the OpenAI SDK) are imported only then, so a server
 * that never runs them never holds them in memory.
 */
export function createEngines(stt: SttConfig, log: EngineLog): EngineSet {
  const engines: Record<EngineName, TranscriptionEngine> = {
    whisper: new LazyEngine('whisper', async () => {
      const { WhisperEngine } = await import('./whisper.js');
      return new WhisperEngine(stt.whisper, { log: (message: string) => log.info({ engine: 'whisper' }, message) });
    }),
    openai: new LazyEngine('openai', async () => new (await import('./openai.js')).OpenAIEngine(stt.openai)),
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

/** Imports an engine's module and builds the engine on its first transcription, once. */
class LazyEngine implements TranscriptionEngine {
  private engine: Promise<TranscriptionEngine> | null = null;

  constructor(
    readonly name: EngineName,
    private readonly load: () => Promise<TranscriptionEngine>,
  ) {}

  async transcribe(audio: PcmAudio, options: TranscribeOptions): Promise<EngineResult> {
    // A failed import is not cached: it is a broken install, and the next job should try again.
    this.engine ??= this.load().catch((error: unknown) => {
      this.engine = null;
      throw error;
    });
    return (await this.engine).transcribe(audio, options);
  }
}
