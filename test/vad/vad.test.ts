import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { librivoxClips } from '../helpers/audio.js';
import { readWavSamples, speechRegions } from '../../src/vad/regions.js';
import { SileroVad, VAD_SAMPLE_RATE, VAD_WINDOW } from '../../src/vad/silero.js';
import { TurnDetector, type TurnEvent } from '../../src/vad/turn-detector.js';

/** Debian pocketsphinx-testdata's "go forward ten meters": raw 16 kHz mono PCM16. */
function goforward(): Float32Array {
  const raw = readFileSync('/usr/share/pocketsphinx/test/data/goforward.raw');
  const samples = new Float32Array(raw.length / 2);
  for (let i = 0; i < samples.length; i++) samples[i] = raw.readInt16LE(i * 2) / 32768;
  return samples;
}

/** Low white noise (about -46 dBFS), seeded so a failure can be reproduced. */
function noise(seconds: number, amplitude = 0.005): Float32Array {
  const out = new Float32Array(Math.round(seconds * VAD_SAMPLE_RATE));
  let seed = 12345;
  for (let i = 0; i < out.length; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    out[i] = (seed / 2 ** 31 - 0.5) * 2 * amplitude;
  }
  return out;
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

describe('Silero VAD', () => {
  it('finds the speech in goforward.wav from about 0.51 s to 2.21 s', async () => {
    const regions = await speechRegions(goforward());
    assert.equal(regions.length, 1, JSON.stringify(regions));
    assert.ok(Math.abs(regions[0]!.start - 0.51) <= 0.1, `start ${regions[0]!.start}`);
    assert.ok(Math.abs(regions[0]!.end - 2.21) <= 0.1, `end ${regions[0]!.end}`);
  });

  it('gives silence and low noise a probability near zero, and finds no speech in them', async () => {
    const vad = await SileroVad.create();
    let most = 0;
    const quiet = concat([new Float32Array(VAD_SAMPLE_RATE * 2), noise(3)]);
    for (let o = 0; o + VAD_WINDOW <= quiet.length; o += VAD_WINDOW) most = Math.max(most, await vad.probability(quiet.subarray(o, o + VAD_WINDOW)));
    assert.ok(most < 0.1, `max probability ${most}`);
    assert.deepEqual(await speechRegions(quiet), []);
  });

  it('rejects a window of the wrong size', async () => {
    const vad = await SileroVad.create();
    await assert.rejects(vad.probability(new Float32Array(100)), RangeError);
  });

  it('emits speech_started/stopped around each utterance of LibriVox clips padded with silence', async () => {
    const clips = librivoxClips().slice(1, 3);
    const parts: Float32Array[] = [noise(2)];
    const spans: { start: number; end: number }[] = [];
    let at = 2;
    for (const clip of clips) {
      const samples = await readWavSamples(clip.wavPath);
      parts.push(samples, noise(2));
      spans.push({ start: at, end: at + samples.length / VAD_SAMPLE_RATE });
      at += samples.length / VAD_SAMPLE_RATE + 2;
    }
    const audio = concat(parts);
    const detector = await TurnDetector.create({ threshold: 0.5, prefixPaddingMs: 300, silenceDurationMs: 1000 });
    const events: TurnEvent[] = [];
    // Pushed in odd-sized pieces, as a socket would deliver them.
    for (let o = 0; o < audio.length; o += 4_321) events.push(...(await detector.push(audio.subarray(o, o + 4_321))));
    events.push(...detector.end());
    assert.deepEqual(
      events.map((e) => e.type),
      ['speech_started', 'speech_stopped', 'speech_started', 'speech_stopped'],
      JSON.stringify(events),
    );
    for (const [i, span] of spans.entries()) {
      const started = events[i * 2] as Extract<TurnEvent, { type: 'speech_started' }>;
      const stopped = events[i * 2 + 1] as Extract<TurnEvent, { type: 'speech_stopped' }>;
      // Speech lies within the clip (clips carry a little silence of their own at either end); Silero's
      // probability trails off over a few windows after the last word.
      assert.ok(started.audioStartMs / 1000 >= span.start - 0.05 && started.audioStartMs / 1000 < span.start + 0.8, JSON.stringify({ started, span }));
      assert.ok(stopped.audioEndMs / 1000 <= span.end + 0.3 && stopped.audioEndMs / 1000 > span.end - 0.8, JSON.stringify({ stopped, span }));
    }
  });

  it('does not start on a click', async () => {
    const click = new Float32Array(VAD_WINDOW);
    for (let i = 0; i < 40; i++) click[i] = i % 2 ? 0.9 : -0.9;
    const detector = await TurnDetector.create({ threshold: 0.5, prefixPaddingMs: 300, silenceDurationMs: 500 });
    const events = [...(await detector.push(concat([noise(1), click, noise(1)]))), ...detector.end()];
    assert.deepEqual(events, []);
  });

  it('keeps its clock running across reset()', async () => {
    const detector = await TurnDetector.create({ threshold: 0.5, prefixPaddingMs: 300, silenceDurationMs: 500 });
    await detector.push(noise(1.01));
    detector.reset();
    const events = [...(await detector.push(goforward())), ...detector.end()];
    assert.equal(events[0]?.type, 'speech_started');
    const start = events[0].audioStartMs / 1000;
    assert.ok(Math.abs(start - 1.01 - 0.51) <= 0.1, `start ${start}`);
  });
});
