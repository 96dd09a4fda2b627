/**
 * Silero VAD's cost: milliseconds of CPU per second of audio, for the turn detector run over the
 * LibriVox clips joined with silence between them (speech and pauses, as a call has). In process:
 * what a realtime session or a batch `vad` pass adds to the process that runs it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { writeResult } from './lib.js';
import { readWavSamples } from '../src/vad/regions.js';
import { VAD_SAMPLE_RATE } from '../src/vad/silero.js';
import { TurnDetector } from '../src/vad/turn-detector.js';

const RUNS = 3;
const LIBRIVOX = '/usr/share/pocketsphinx/test/data/librivox';
const ids = readFileSync(path.join(LIBRIVOX, 'fileids'), 'utf8').trim().split('\n');

const pause = new Float32Array(VAD_SAMPLE_RATE * 2);
const parts: Float32Array[] = [];
// Four times over: about two minutes, so start-up costs are amortised.
for (let i = 0; i < 4; i++) for (const id of ids) parts.push(await readWavSamples(path.join(LIBRIVOX, `${id}.wav`)), pause);
const audio = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
parts.reduce((offset, part) => (audio.set(part, offset), offset + part.length), 0);
const seconds = audio.length / VAD_SAMPLE_RATE;

const loadStarted = performance.now();
await TurnDetector.create({ threshold: 0.5, prefixPaddingMs: 300, silenceDurationMs: 500 });
const loadMs = performance.now() - loadStarted;

const cpuPerSecond: number[] = [];
const wallPerSecond: number[] = [];
let turns = 0;
for (let run = 0; run < RUNS; run++) {
  const detector = await TurnDetector.create({ threshold: 0.5, prefixPaddingMs: 300, silenceDurationMs: 500 });
  const cpu = process.cpuUsage();
  const started = performance.now();
  turns = 0;
  // 20 ms pieces, as a realtime client sends them.
  for (let o = 0; o < audio.length; o += 320) {
    for (const event of await detector.push(audio.subarray(o, o + 320))) if (event.type === 'speech_stopped') turns++;
  }
  const used = process.cpuUsage(cpu);
  cpuPerSecond.push((used.user + used.system) / 1000 / seconds);
  wallPerSecond.push((performance.now() - started) / seconds);
}

writeResult('vad-cost', {
  audio_seconds: Number(seconds.toFixed(1)),
  turns_found: turns,
  model_load_ms: Number(loadMs.toFixed(0)),
  cpu_ms_per_audio_second: cpuPerSecond.map((v) => Number(v.toFixed(2))),
  wall_ms_per_audio_second: wallPerSecond.map((v) => Number(v.toFixed(2))),
});
