/**
 * Loads whisper.cpp's prebuilt Node addon from @fugood/node-whisper-<platform>-<arch>[-variant]
 * directly, without the @fugood/whisper.node wrapper (which would pull every GPU and wasm variant).
 * Only the part of its API this project uses is typed here.
 *
 * Behaviour of the 1.1.x addon that callers must know (read from its source, src/WhisperContext.cpp):
 * - `new WhisperContext()` loads the model synchronously on the calling (main) thread and throws
 *   "Failed to initialize whisper context" for a missing or unreadable model.
 * - `stop()` only raises a flag: whisper.cpp is given no abort callback, so the running
 *   whisper_full() call goes on to its end, and the job's promise then NEVER settles (the addon
 *   reports errors to a callback that ignores one-argument calls). The same happens when whisper.cpp
 *   fails or throws: the promise stays pending.
 * - Jobs on one context are serialised by a native mutex; every whisper_full() clears the
 *   context's previous results.
 * - Segment times t0/t1 are milliseconds (whisper.cpp's centiseconds × 10).
 * - Logs go to stderr unless toggleNativeLog(true, callback) routes them, and that callback keeps the
 *   event loop alive until toggled off.
 */
import { createRequire } from 'node:module';
import type { SttConfig } from '../../config.js';
import { EngineError } from './engine.js';

export type WhisperVariant = SttConfig['whisper']['variant'];

export interface NativeTranscribeOptions {
  /** A whisper language code, or "auto" to detect it; omitted means English. */
  language?: string;
  prompt?: string;
  maxThreads?: number;
  tokenTimestamps?: boolean;
  translate?: boolean;
  temperature?: number;
  beamSize?: number;
  bestOf?: number;
  /** Milliseconds into the audio to start at / how much of it to transcribe. */
  offset?: number;
  duration?: number;
  /** 0–100 within this call. */
  onProgress?: (progress: number) => void;
}

export interface NativeSegment {
  text: string;
  /** Milliseconds. */
  t0: number;
  t1: number;
}

export interface NativeTranscribeResult {
  language?: string;
  result: string;
  segments: NativeSegment[];
  isAborted: boolean;
}

export interface NativeJob {
  stop(): Promise<void>;
  promise: Promise<NativeTranscribeResult>;
}

export interface NativeWhisperContext {
  transcribeFile(filePath: string, options?: NativeTranscribeOptions): NativeJob;
  /** 16-bit signed mono PCM at 16 kHz. */
  transcribeData(pcm: ArrayBuffer, options?: NativeTranscribeOptions): NativeJob;
  release(): Promise<void>;
}

export interface NativeContextOptions {
  filePath: string;
  useGpu?: boolean;
  useFlashAttn?: boolean;
}

export interface NativeWhisperModule {
  WhisperContext: {
    new (options: NativeContextOptions): NativeWhisperContext;
    /** Routes whisper.cpp's log lines to `callback` (level: error, warn, info, debug, or ""). */
    toggleNativeLog?(enable: boolean, callback?: (level: string, text: string) => void): void;
  };
}

export interface LoadedNative {
  module: NativeWhisperModule;
  packageName: string;
  /** Whether the package has a GPU backend (the vulkan or cuda build). */
  gpu: boolean;
}

export function platformPackageName(variant: WhisperVariant = 'default'): string {
  const suffix = variant === 'default' ? '' : `-${variant}`;
  return `@fugood/node-whisper-${process.platform}-${process.arch}${suffix}`;
}

type RequireFn = (id: string) => unknown;

const cache = new Map<WhisperVariant, LoadedNative>();

/**
 * The addon for the configured variant, falling back (with a warning) from vulkan/cuda to the CPU
 * package. Throws EngineError engine_unavailable naming the package to install when none loads.
 */
export function loadWhisperNative(
  variant: WhisperVariant,
  options: { log?: (level: 'warn', message: string) => void; require?: RequireFn } = {},
): LoadedNative {
  const cached = options.require ? undefined : cache.get(variant);
  if (cached) return cached;
  const load = options.require ?? createRequire(import.meta.url);
  const candidates = variant === 'default' ? ['default' as const] : [variant, 'default' as const];
  const failures: string[] = [];
  for (const candidate of candidates) {
    const packageName = platformPackageName(candidate);
    try {
      const module = load(packageName) as Partial<NativeWhisperModule>;
      if (typeof module.WhisperContext !== 'function') throw new Error('it has no WhisperContext export');
      if (candidate !== variant) {
        options.log?.(
          'warn',
          `WHISPER_VARIANT=${variant} but ${platformPackageName(variant)} could not be loaded ` +
            `(${failures.at(-1) ?? 'not installed'}); using the CPU build ${packageName}`,
        );
      }
      const loaded: LoadedNative = { module: module as NativeWhisperModule, packageName, gpu: candidate !== 'default' };
      if (!options.require) cache.set(variant, loaded);
      return loaded;
    } catch (error) {
      failures.push(`${packageName}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    }
  }
  const wanted = platformPackageName(variant);
  throw new EngineError(
    `The whisper engine needs whisper.cpp's prebuilt addon for ${process.platform}-${process.arch}, and none ` +
      `could be loaded. Install it with \`npm install ${wanted}\`` +
      (variant === 'default' ? '' : ` (or \`npm install ${platformPackageName('default')}\` for the CPU build)`) +
      `; it is an optional dependency, so \`npm install --omit=optional\` or an unsupported platform leaves it ` +
      `out. Tried: ${failures.join('; ')}`,
    'engine_unavailable',
  );
}

/**
 * Sends whisper.cpp's log lines (model loading details, detected languages, warnings) to `log`
 * instead of stderr until the returned function is called. While routed, the addon's callback keeps
 * the event loop alive, and switching it off while whisper.cpp is working races with its log calls:
 * call the returned function only when no transcription is running (after WhisperEngine.close()).
 */
export function routeNativeLogs(native: LoadedNative, log: (level: 'debug' | 'warn' | 'error', text: string) => void): () => void {
  const toggle = native.module.WhisperContext.toggleNativeLog?.bind(native.module.WhisperContext);
  if (!toggle) return () => {};
  toggle(true, (level, text) => {
    const line = text.trimEnd();
    if (line) log(level === 'error' ? 'error' : level === 'warn' ? 'warn' : 'debug', line);
  });
  return () => toggle(false);
}
