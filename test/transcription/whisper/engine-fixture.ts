/**
 * Shared by the engine-*.test.ts suites: the whole WhisperEngine path on the real whisper.cpp addon,
 * with a tiny random-weight model the test writes itself (tiny-model.ts): the text is gibberish, but
 * loading, decoding, timing, language detection, cancellation and context reuse are all whisper.cpp's
 * own.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import type { SttConfig } from '../../../src/config.js';
import { EngineError, type EngineSegment, type TranscribeOptions } from '../../../src/transcription/engines/engine.js';
import {
  loadWhisperNative,
  routeNativeLogs,
  type LoadedNative,
  type NativeContextOptions,
  type NativeWhisperContext,
} from '../../../src/transcription/engines/whisper-native.js';
import { WhisperEngine } from '../../../src/transcription/engines/whisper.js';
import { writeTestWav, writeTinyModel } from './tiny-model.js';

export const dir = mkdtempSync(path.join(tmpdir(), 'transcribo-whisper-'));
export const modelPath = path.join(dir, 'tiny.bin');
export const englishModelPath = path.join(dir, 'tiny-en.bin');
const wavPath = path.join(dir, 'three-seconds.wav');
export const DURATION = 3;

let server: Server;
let baseUrl: string;

/** The real addon, with its constructor and calls counted. */
export const calls = { contexts: 0, transcribeData: 0, transcribeFile: 0 };
let native: LoadedNative;
const engines: WhisperEngine[] = [];
/** whisper.cpp's own log lines, kept out of the test output. */
const nativeLog: string[] = [];
let stopRoutingLogs = () => {};

export function config(overrides: Partial<SttConfig['whisper']> = {}): SttConfig['whisper'] {
  return {
    model: modelPath,
    modelsDir: path.join(dir, 'models'),
    modelBaseUrl: baseUrl,
    threads: 2,
    allowedModels: [],
    variant: 'default',
    ...overrides,
  };
}

export function engine(
  overrides: Partial<SttConfig['whisper']> = {},
  chunkSeconds?: number,
  maxLoadedModels?: number,
): WhisperEngine {
  const created = new WhisperEngine(config(overrides), { native, chunkSeconds, maxLoadedModels });
  engines.push(created);
  return created;
}

export function options(extra: Partial<TranscribeOptions> = {}): TranscribeOptions {
  return { wordTimestamps: false, signal: new AbortController().signal, ...extra };
}

export const audio = { wavPath, durationSeconds: DURATION };

export function assertSegmentsSane(segments: EngineSegment[], duration: number) {
  let previousStart = 0;
  for (const segment of segments) {
    assert.ok(segment.start >= 0 && segment.start <= segment.end, JSON.stringify(segment));
    assert.ok(segment.end <= duration + 0.5, JSON.stringify(segment));
    assert.ok(segment.start >= previousStart, 'segments come in order');
    assert.equal(typeof segment.text, 'string');
    assert.equal(segment.words, undefined);
    previousStart = segment.start;
  }
}

export async function expectEngineError(promise: Promise<unknown>, code: string, message?: RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof EngineError, String(error));
    assert.equal(error.code, code, error.message);
    assert.equal(error.kind, 'permanent');
    if (message) assert.match(error.message, message);
    return true;
  });
}

before(async () => {
  writeTinyModel(modelPath);
  writeTinyModel(englishModelPath, { nVocab: 51864, seed: 2 });
  writeTestWav(wavPath, DURATION);
  server = createServer((_req, res) => {
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const real = loadWhisperNative('default');
  stopRoutingLogs = routeNativeLogs(real, (level, text) => nativeLog.push(`${level}: ${text}`));
  const RealContext = real.module.WhisperContext;
  class CountingContext {
    constructor(contextOptions: NativeContextOptions) {
      calls.contexts++;
      const context = new RealContext(contextOptions);
      return {
        transcribeData: (...args: Parameters<NativeWhisperContext['transcribeData']>) => {
          calls.transcribeData++;
          return context.transcribeData(...args);
        },
        transcribeFile: (...args: Parameters<NativeWhisperContext['transcribeFile']>) => {
          calls.transcribeFile++;
          return context.transcribeFile(...args);
        },
        release: () => context.release(),
      } satisfies NativeWhisperContext;
    }
  }
  native = { ...real, module: { WhisperContext: CountingContext as unknown as LoadedNative['module']['WhisperContext'] } };
});

after(async () => {
  for (const created of engines) await created.close();
  stopRoutingLogs();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});
