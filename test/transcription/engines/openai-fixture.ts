/*
 * Shared by the openai-*.test.ts suites: OpenAIEngine against a fake provider (fakeSpeech), with
 * WAVs written to a temp dir removed after the file's tests.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { encodeWav } from '../../../src/audio/wav.js';
import type { SttConfig } from '../../../src/config.js';
import type { PcmAudio } from '../../../src/transcription/engines/engine.js';

export const RATE = 16_000;
const work = mkdtempSync(path.join(tmpdir(), 'openai-engine-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

export function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

export function config(overrides: Partial<SttConfig['openai']>): SttConfig['openai'] {
  return {
    baseUrl: null,
    apiKey: 'sk-test-key',
    model: 'whisper-1',
    maxUploadBytes: 25 * 1024 * 1024,
    timeoutMs: 10_000,
    ...overrides,
  };
}

export function writeAudio(name: string, samples: Int16Array): PcmAudio {
  const wavPath = path.join(work, name);
  writeFileSync(wavPath, encodeWav(samples, RATE));
  return { wavPath, durationSeconds: samples.length / RATE };
}

/** Deterministic faint noise, so silences are quiet but not all-zero. */
function noise(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return (state / 2 ** 31 - 0.5) * 60;
  };
}

/** Tones of `toneSeconds` every `period` seconds after `lead` seconds, over faint noise. */
export function toneTrack(count: number, lead: number, toneSeconds: number, period: number) {
  const total = lead + count * period;
  const samples = new Int16Array(Math.round(total * RATE));
  const rand = noise(7);
  for (let i = 0; i < samples.length; i++) samples[i] = Math.round(rand());
  const tones: Array<{ start: number; end: number }> = [];
  for (let k = 0; k < count; k++) {
    const start = lead + k * period;
    tones.push({ start, end: start + toneSeconds });
    const from = Math.round(start * RATE);
    const to = Math.round((start + toneSeconds) * RATE);
    for (let i = from; i < to; i++) samples[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * (i - from)) / RATE));
  }
  return { samples, tones };
}

export function isWav(bytes: Buffer): boolean {
  return bytes.toString('ascii', 0, 4) === 'RIFF' && bytes.toString('ascii', 8, 12) === 'WAVE';
}

export const signal = () => new AbortController().signal;
