/* Files over the provider's upload limit: cut on silence, sent in turn, their results put back together. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseWav, type PcmSamples } from '../../../src/audio/wav.js';
import type { EngineSegment } from '../../../src/transcription/engines/engine.js';
import { OpenAIEngine } from '../../../src/transcription/engines/openai.js';
import { fakeSpeech } from '../../helpers/fake-speech.js';
import { config, isWav, json, RATE, signal, toneTrack, writeAudio } from './openai-fixture.js';

/** Where the loud parts of a chunk are, by 10 ms RMS: what a real recogniser would time. */
function loudRuns(pcm: PcmSamples): Array<{ start: number; end: number }> {
  const hop = pcm.sampleRate / 100;
  const runs: Array<{ start: number; end: number }> = [];
  let open: number | null = null;
  const frames = Math.floor(pcm.samples.length / hop);
  for (let f = 0; f <= frames; f++) {
    let loud = false;
    if (f < frames) {
      let sum = 0;
      for (let i = f * hop; i < (f + 1) * hop; i++) sum += pcm.samples[i]! ** 2;
      loud = Math.sqrt(sum / hop) > 1000;
    }
    if (loud && open === null) open = f;
    if (!loud && open !== null) {
      runs.push({ start: open / 100, end: f / 100 });
      open = null;
    }
  }
  return runs;
}

test('large files are split on silence into chunks under the limit, with times offset back', async () => {
  // 10 tones of 0.4 s every 1.5 s: 15.5 s, ~496 kB; a 5 s (160 kB) limit needs at least 4 chunks.
  const { samples, tones } = toneTrack(10, 0.5, 0.4, 1.5);
  const audio = writeAudio('tones.wav', samples);
  const maxUploadBytes = 44 + 5 * RATE * 2;
  let counter = 0;
  const replies: string[] = [];
  const server = await fakeSpeech((req, res) => {
    const pcm = parseWav(req.file!.bytes);
    const runs = loudRuns(pcm);
    const segments = runs.map((run) => ({ start: run.start, end: run.end, text: ` beep ${++counter}` }));
    const text = segments.map((s) => s.text).join('');
    replies.push(text.trim());
    json(res, 200, {
      language: 'english',
      duration: pcm.samples.length / pcm.sampleRate,
      text,
      segments,
      words: runs.map((run) => ({ word: 'beep', start: run.start, end: run.end })),
    });
  });
  try {
    const engine = new OpenAIEngine(config({ baseUrl: server.baseUrl, maxUploadBytes }));
    const progress: number[] = [];
    const streamed: EngineSegment[] = [];
    const result = await engine.transcribe(audio, {
      wordTimestamps: true,
      prompt: 'Beeps.',
      signal: signal(),
      onProgress: (p) => progress.push(p),
      onSegment: (s) => streamed.push(s),
    });

    const chunks = server.requests.map((r) => {
      assert.ok(r.file && isWav(r.file.bytes));
      assert.ok(r.file.bytes.length <= maxUploadBytes, `chunk of ${r.file.bytes.length} bytes`);
      const pcm = parseWav(r.file.bytes);
      assert.equal(pcm.sampleRate, RATE);
      assert.equal(pcm.channels, 1);
      return pcm.samples.length;
    });
    assert.ok(chunks.length >= 3, `${chunks.length} requests`);
    assert.equal(
      chunks.reduce((a, b) => a + b, 0),
      samples.length,
      'the chunks cover the whole file exactly',
    );

    // Every cut point lies inside a silence, clear of the tones.
    let cut = 0;
    for (const length of chunks.slice(0, -1)) {
      cut += length;
      const at = cut / RATE;
      for (const tone of tones) {
        assert.ok(at < tone.start - 0.1 || at > tone.end + 0.1, `cut at ${at}s is inside the tone at ${tone.start}s`);
      }
    }

    // The previous chunk's text is carried as the prompt.
    assert.deepEqual(server.requests[0]!.fields.get('prompt'), ['Beeps.']);
    for (let i = 1; i < server.requests.length; i++) {
      const prompt = server.requests[i]!.fields.get('prompt')?.[0] ?? '';
      assert.ok(prompt.startsWith('Beeps.'), prompt);
      assert.ok(prompt.endsWith(replies[i - 1]!), `prompt "${prompt}" should end with "${replies[i - 1]}"`);
    }

    // Results line up with the tones in the original timeline.
    assert.equal(result.segments.length, tones.length);
    assert.equal(result.language, 'en');
    assert.equal(result.duration, audio.durationSeconds);
    let previous = -1;
    result.segments.forEach((segment, k) => {
      const tone = tones[k]!;
      assert.equal(segment.text, `beep ${k + 1}`);
      assert.ok(Math.abs(segment.start - tone.start) <= 0.35, `segment ${k} starts at ${segment.start}, tone at ${tone.start}`);
      assert.ok(Math.abs(segment.end - tone.end) <= 0.35, `segment ${k} ends at ${segment.end}, tone at ${tone.end}`);
      assert.ok(segment.start >= previous && segment.start <= segment.end);
      previous = segment.end;
      assert.equal(segment.words?.length, 1);
      const word = segment.words[0]!;
      assert.ok(Math.abs(word.start - tone.start) <= 0.35 && Math.abs(word.end - tone.end) <= 0.35);
    });
    assert.deepEqual(streamed, result.segments);
    assert.equal(progress.length, chunks.length);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i]! > progress[i - 1]!);
    assert.equal(progress.at(-1), 100);
  } finally {
    await server.close();
  }
});
