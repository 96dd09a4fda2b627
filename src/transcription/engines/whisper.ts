/**
 * Local transcription with whisper.cpp through its prebuilt Node addon (see whisper-native.ts).
 *
 * The audio is fed to whisper.cpp in windows of `chunkSeconds` (30 s by default, whisper's own
 * window) read straight from the WAV file. The addon cannot interrupt a running whisper.cpp call, so
 * this bounds how long a cancelled transcription keeps the CPU busy to one window's work. At each
 * cut the last segment, which may have been cut mid-word, is dropped and the next window starts where
 * it began; the text so far is passed on as the prompt, as whisper.cpp does between its own windows,
 * and the language detected in the first window is kept for the rest.
 *
 * Segments reach `onSegment` window by window. The addon's own onNewSegments callback is not used:
 * it reads whisper.cpp's segment list on the main thread while the worker thread may still be
 * appending to it. The addon returns no tokens, so segments carry no words even when word
 * timestamps are asked for.
 */
import type { SttConfig } from '../../config.js';
import { ensureModel, ModelUnavailableError, type LogFn } from '../models/download.js';
import { resolveModel, UnknownModelError, type ResolvedModel } from '../models/registry.js';
import {
  abortError,
  EngineError,
  type EngineResult,
  type EngineSegment,
  type PcmAudio,
  type TranscribeOptions,
  type TranscriptionEngine,
} from './engine.js';
import { runNative } from './whisper-call.js';
import { createContext, type LoadedModel } from './whisper-context.js';
import { checkLanguage, fromWhisperLanguage } from './whisper-languages.js';
import { loadWhisperNative, type LoadedNative, type NativeTranscribeOptions } from './whisper-native.js';
import { promptFor, toSegments } from './whisper-segments.js';
import { openWav, SAMPLE_RATE } from './whisper-wav.js';

/** A segment ending this close to a window's cut may have been cut short. */
const CUT_MARGIN_SECONDS = 1;

export interface WhisperEngineOptions {
  log?: LogFn;
  /** Seconds of audio per whisper.cpp call; 0 sends the whole file at once. */
  chunkSeconds?: number;
  /** Models kept loaded at once (each holds its weights and work buffers in memory); default 2. */
  maxLoadedModels?: number;
  fetchImpl?: typeof fetch;
  /** The addon to use instead of loading it (tests wrap it to observe calls). */
  native?: LoadedNative;
}

interface ContextEntry {
  pending: Promise<LoadedModel>;
  loaded?: LoadedModel;
  /** Transcriptions holding or waiting for it; only an unused model is unloaded. */
  users: number;
}

export class WhisperEngine implements TranscriptionEngine {
  readonly name = 'whisper' as const;
  private readonly log: LogFn;
  private readonly chunkSeconds: number;
  /** By model path, least recently used first. */
  private readonly contexts = new Map<string, ContextEntry>();
  private readonly maxLoadedModels: number;
  private native: LoadedNative | undefined;

  constructor(
    private readonly config: SttConfig['whisper'],
    private readonly options: WhisperEngineOptions = {},
  ) {
    this.log = options.log ?? (() => {});
    this.chunkSeconds = options.chunkSeconds ?? 30;
    this.maxLoadedModels = Math.max(1, options.maxLoadedModels ?? 2);
    this.native = options.native;
  }

  async transcribe(audio: PcmAudio, options: TranscribeOptions): Promise<EngineResult> {
    const { signal } = options;
    if (signal.aborted) throw abortError(signal);

    const spec = options.model ?? this.config.model;
    let resolved: ResolvedModel;
    try {
      resolved = resolveModel(spec);
    } catch (error) {
      if (error instanceof UnknownModelError) throw new EngineError(error.message, 'model_unavailable');
      throw error;
    }
    // A request may name a registered model; only the configuration may point at a file.
    if (resolved.kind === 'path' && options.model !== undefined && options.model !== this.config.model) {
      throw new EngineError(
        `A transcription request cannot name a model file (${options.model}); use a model name such as base`,
        'model_unavailable',
      );
    }
    const modelPath = await this.ensureModelFile(spec, signal);
    const native = this.loadNative();
    const entry = this.useModel(modelPath, native);
    try {
      const model = await entry.pending;
      if (signal.aborted) throw abortError(signal);
      const language = checkLanguage(options.language, model, resolved.name);
      return await model.lock.run(() => this.run(model, audio, options, language, resolved.name), signal);
    } finally {
      entry.users--;
      this.unloadIdle();
    }
  }

  /** Releases every loaded model. Running transcriptions finish their current window first. */
  async close(): Promise<void> {
    const entries = [...this.contexts.values()];
    this.contexts.clear();
    for (const entry of entries) {
      const model = await entry.pending.catch(() => null);
      if (model) await model.lock.run(() => model.context.release());
    }
  }

  /** Unloads the least recently used idle models beyond maxLoadedModels. */
  private unloadIdle(): void {
    for (const [modelPath, entry] of this.contexts) {
      if (this.contexts.size <= this.maxLoadedModels) return;
      const model = entry.loaded;
      if (!model || entry.users > 0) continue;
      this.contexts.delete(modelPath);
      this.log('info', `unloading whisper model ${modelPath} (more than ${this.maxLoadedModels} loaded)`);
      void model.lock.run(() => model.context.release()).catch(() => {});
    }
  }

  private async ensureModelFile(spec: string, signal: AbortSignal): Promise<string> {
    try {
      return await ensureModel(spec, {
        modelsDir: this.config.modelsDir,
        baseUrl: this.config.modelBaseUrl,
        log: this.log,
        signal,
        fetchImpl: this.options.fetchImpl,
      });
    } catch (error) {
      if (signal.aborted) throw abortError(signal);
      if (error instanceof ModelUnavailableError || error instanceof UnknownModelError) {
        throw new EngineError(error.message, 'model_unavailable', { cause: error });
      }
      throw error;
    }
  }

  private loadNative(): LoadedNative {
    this.native ??= loadWhisperNative(this.config.variant, { log: this.log });
    return this.native;
  }

  /** The model's entry, loading it if needed, counted as in use (the caller must decrement). */
  private useModel(modelPath: string, native: LoadedNative): ContextEntry {
    const entry = this.contexts.get(modelPath);
    if (entry) {
      entry.users++;
      // Most recently used goes last.
      this.contexts.delete(modelPath);
      this.contexts.set(modelPath, entry);
      return entry;
    }
    const created: ContextEntry = { pending: createContext(modelPath, native, this.log), users: 1 };
    this.contexts.set(modelPath, created);
    created.pending.then(
      (model) => {
        created.loaded = model;
      },
      () => {
        // A model that failed to load is tried again next time (the file may have been fixed).
        if (this.contexts.get(modelPath) === created) this.contexts.delete(modelPath);
      },
    );
    return created;
  }

  private async run(
    model: LoadedModel,
    audio: PcmAudio,
    options: TranscribeOptions,
    fixedLanguage: string | null,
    modelName: string,
  ): Promise<EngineResult> {
    const { signal } = options;
    const wav = await openWav(audio.wavPath);
    try {
      const duration = wav.format ? wav.samples / SAMPLE_RATE : audio.durationSeconds;
      let language = fixedLanguage;
      const segments: EngineSegment[] = [];
      let lastProgress = -1;
      const progress = (percent: number) => {
        const rounded = Math.min(100, Math.round(percent * 10) / 10);
        if (rounded > lastProgress) {
          lastProgress = rounded;
          options.onProgress?.(rounded);
        }
      };
      const base: NativeTranscribeOptions = {
        maxThreads: this.config.threads,
        tokenTimestamps: options.wordTimestamps,
      };

      if (!wav.format) {
        // Not 16 kHz mono 16-bit: whisper.cpp decodes and resamples the file itself, in one call.
        const result = await runNative(model.context, { file: audio.wavPath }, {
          ...base,
          language: language ?? 'auto',
          prompt: options.prompt,
          onProgress: progress,
        }, signal);
        language ??= result.language ?? null;
        for (const segment of toSegments(result, 0, duration)) {
          segments.push(segment);
          options.onSegment?.(segment);
        }
      } else {
        const chunk = this.chunkSeconds > 0 ? Math.round(this.chunkSeconds * SAMPLE_RATE) : wav.samples;
        let start = 0;
        // whisper.cpp skips anything under 100 ms (and would then report a stale language).
        while (wav.samples - start >= SAMPLE_RATE / 10) {
          if (signal.aborted) throw abortError(signal);
          const from = start;
          const end = Math.min(wav.samples, from + chunk);
          const last = end >= wav.samples;
          const pcm = await wav.read(from, end);
          const startSec = from / SAMPLE_RATE;
          const endSec = end / SAMPLE_RATE;
          const result = await runNative(model.context, { pcm }, {
            ...base,
            language: language ?? 'auto',
            prompt: promptFor(options.prompt, segments),
            onProgress: (p) => progress(((from + ((end - from) * p) / 100) / wav.samples) * 100),
          }, signal);
          // Later windows keep the language detected in the first, as whisper.cpp does for a file.
          language ??= result.language ?? null;
          const found = toSegments(result, startSec, endSec);
          let next = end;
          const tail = found.at(-1);
          if (!last && tail && tail.end >= endSec - CUT_MARGIN_SECONDS && tail.start > startSec + CUT_MARGIN_SECONDS) {
            found.pop();
            next = Math.round(tail.start * SAMPLE_RATE);
          }
          for (const segment of found) {
            segments.push(segment);
            options.onSegment?.(segment);
          }
          start = next;
          progress((start / wav.samples) * 100);
        }
      }
      progress(100);
      return {
        language: fromWhisperLanguage(language),
        duration,
        segments,
        model: modelName,
      };
    } finally {
      await wav.close();
    }
  }
}
