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
import {
  loadWhisperNative,
  type LoadedNative,
  type NativeTranscribeOptions,
  type NativeTranscribeResult,
  type NativeWhisperContext,
} from './whisper-native.js';
import { readModelHeader, type ModelHeader } from './whisper-model-header.js';
import { openWav, SAMPLE_RATE } from './whisper-wav.js';

/** whisper.cpp's language codes, in token order (index = language id). */
export const WHISPER_LANGUAGES = [
  'en', 'zh', 'de', 'es', 'ru', 'ko', 'fr', 'ja', 'pt', 'tr', 'pl', 'ca', 'nl', 'ar', 'sv', 'it', 'id', 'hi',
  'fi', 'vi', 'he', 'uk', 'el', 'ms', 'cs', 'ro', 'da', 'hu', 'ta', 'no', 'th', 'ur', 'hr', 'bg', 'lt', 'la',
  'mi', 'ml', 'cy', 'sk', 'te', 'fa', 'lv', 'bn', 'sr', 'az', 'sl', 'kn', 'et', 'mk', 'br', 'eu', 'is', 'hy',
  'ne', 'mn', 'bs', 'kk', 'sq', 'sw', 'gl', 'mr', 'pa', 'si', 'km', 'sn', 'yo', 'so', 'af', 'oc', 'ka', 'be',
  'tg', 'sd', 'gu', 'am', 'yi', 'lo', 'uz', 'fo', 'ht', 'ps', 'tk', 'nn', 'mt', 'sa', 'lb', 'my', 'bo', 'tl',
  'mg', 'as', 'tt', 'haw', 'ln', 'ha', 'ba', 'jw', 'su', 'yue',
] as const;

/** A segment ending this close to a window's cut may have been cut short. */
const CUT_MARGIN_SECONDS = 1;
/** Characters of the preceding text handed to the next window as its prompt (~100 tokens). */
const PROMPT_CARRY_CHARS = 400;

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


interface LoadedModel {
  context: NativeWhisperContext;
  path: string;
  header: ModelHeader;
  multilingual: boolean;
  /** Languages the model has tokens for: 99, or 100 for large-v3 (adds yue). */
  languageCount: number;
  lock: Lock;
}

interface ContextEntry {
  pending: Promise<LoadedModel>;
  loaded?: LoadedModel;
  /** Transcriptions holding or waiting for it; only an unused model is unloaded. */
  users: number;
}

/** Serialises work on one context: the addon's results live in the context between calls. */
class Lock {
  private tail: Promise<void> = Promise.resolve();

  /** Runs `work` after everything queued before it; an abort while waiting gives up the turn. */
  async run<T>(work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => (release = resolve));
    try {
      await untilAborted(previous, signal);
    } catch (error) {
      void previous.then(release);
      throw error;
    }
    try {
      return await work();
    } finally {
      release();
    }
  }
}

/** `promise`, or a rejection with the signal's AbortError if it fires first. */
async function untilAborted(promise: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return await promise;
  if (signal.aborted) throw abortError(signal);
  let onAbort: (() => void) | undefined;
  try {
    await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        onAbort = () => reject(abortError(signal));
        signal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
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
      const language = this.checkLanguage(options.language, model, resolved.name);
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
    const created: ContextEntry = { pending: this.createContext(modelPath, native), users: 1 };
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

  private async createContext(modelPath: string, native: LoadedNative): Promise<LoadedModel> {
    const header = await readModelHeader(modelPath);
    const started = Date.now();
    let context: NativeWhisperContext;
    try {
      // Synchronous: whisper.cpp reads the whole model on this thread.
      context = new native.module.WhisperContext({ filePath: modelPath, useGpu: native.gpu });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new EngineError(
        `Could not load the whisper model ${modelPath}: whisper.cpp refused it (${reason}). The file may be ` +
          'corrupt or truncated, or not a whisper.cpp ggml model; delete it to download a named model again, ' +
          'or point WHISPER_MODEL at a good file.',
        'model_unavailable',
        { cause: error },
      );
    }
    this.log('info', `loaded whisper model ${modelPath} in ${Date.now() - started} ms (${native.packageName})`);
    const multilingual = header.nVocab >= 51865;
    return {
      context,
      path: modelPath,
      header,
      multilingual,
      languageCount: multilingual ? header.nVocab - 51765 - 1 : 1,
      lock: new Lock(),
    };
  }

  /** The whisper code to request, or null to detect it. */
  private checkLanguage(requested: string | undefined, model: LoadedModel, modelName: string): string | null {
    if (requested === undefined || requested.trim() === '') return model.multilingual ? null : 'en';
    const primary = requested.trim().toLowerCase().split(/[-_]/)[0]!;
    const code = primary === 'jv' ? 'jw' : primary; // whisper's Javanese is "jw"
    const index = (WHISPER_LANGUAGES as readonly string[]).indexOf(code);
    if (index < 0 || index >= model.languageCount) {
      const why = model.multilingual
        ? `the whisper model ${modelName} does not know the language "${requested}"`
        : `the whisper model ${modelName} is English-only; choose a multilingual model (one without .en) ` +
          `to transcribe "${requested}"`;
      throw new EngineError(why, 'language_not_supported');
    }
    return code;
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

function fromWhisperLanguage(code: string | null): string | null {
  if (!code) return null;
  return code === 'jw' ? 'jv' : code;
}

/** The user's prompt, then the end of the text so far (whisper.cpp's own context between windows). */
function promptFor(userPrompt: string | undefined, segments: EngineSegment[]): string | undefined {
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
function toSegments(result: NativeTranscribeResult, offsetSec: number, endSec: number): EngineSegment[] {
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

/**
 * One whisper.cpp call. On abort it stops the job and waits until the native work has really ended
 * (see `drained`) before rejecting with the signal's AbortError.
 */
async function runNative(
  context: NativeWhisperContext,
  input: { pcm: ArrayBuffer } | { file: string },
  options: NativeTranscribeOptions,
  signal: AbortSignal,
): Promise<NativeTranscribeResult> {
  if (signal.aborted) throw abortError(signal);
  let job: ReturnType<NativeWhisperContext['transcribeData']>;
  try {
    job = 'pcm' in input ? context.transcribeData(input.pcm, options) : context.transcribeFile(input.file, options);
  } catch (error) {
    throw engineFailed(error);
  }
  const outcome = job.promise.then(
    (result) => ({ ok: true as const, result }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<'aborted'>((resolve) => {
    onAbort = () => resolve('aborted');
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const first = await Promise.race([outcome, aborted]);
    if (first === 'aborted') {
      await job.stop().catch(() => {});
      // The stopped job's promise never settles in whisper.node 1.1.x; a probe queued behind it on
      // the context's mutex tells when whisper.cpp has let go of the context.
      await Promise.race([outcome, drained(context)]);
      throw abortError(signal);
    }
    if (!first.ok) throw engineFailed(first.error);
    if (signal.aborted) throw abortError(signal);
    return first.result;
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

/**
 * Resolves once the context's native mutex has been free: a 10 ms probe (too short for whisper.cpp
 * to decode, so it returns at once and leaves the detected language alone) can only run after the
 * job holding the mutex is done. A job that has not reached the mutex yet sees its stop flag there
 * and does no work.
 */
async function drained(context: NativeWhisperContext): Promise<void> {
  try {
    await context.transcribeData(new ArrayBuffer(320), { language: 'en', maxThreads: 1 }).promise;
  } catch {
    // A released context or a failed probe: nothing of ours is running on it any more.
  }
}

function engineFailed(error: unknown): EngineError {
  const reason = error instanceof Error ? error.message : String(error);
  const badInput = /failed to load audio|expected arraybuffer|buffer size must be even/i.test(reason);
  return new EngineError(`whisper.cpp failed: ${reason}`, badInput ? 'audio_undecodable' : 'engine_failed', {
    cause: error,
  });
}
