import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { encodeWav, parseWav, type PcmSamples } from '../../../src/audio/wav.js';
import type { SttConfig } from '../../../src/config.js';
import { EngineError, type EngineSegment, type PcmAudio } from '../../../src/transcription/engines/engine.js';
import { OpenAIEngine } from '../../../src/transcription/engines/openai.js';
import { fakeSpeech } from '../../helpers/fake-speech.js';

const RATE = 16_000;
const work = mkdtempSync(path.join(tmpdir(), 'openai-engine-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function config(overrides: Partial<SttConfig['openai']>): SttConfig['openai'] {
  return {
    baseUrl: null,
    apiKey: 'sk-test-key',
    model: 'whisper-1',
    maxUploadBytes: 25 * 1024 * 1024,
    timeoutMs: 10_000,
    ...overrides,
  };
}

function writeAudio(name: string, samples: Int16Array): PcmAudio {
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
function toneTrack(count: number, lead: number, toneSeconds: number, period: number) {
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

function isWav(bytes: Buffer): boolean {
  return bytes.toString('ascii', 0, 4) === 'RIFF' && bytes.toString('ascii', 8, 12) === 'WAVE';
}

const signal = () => new AbortController().signal;

test('happy path: sends the right request and maps segments and words', async () => {
  const server = await fakeSpeech((_req, res) =>
    json(res, 200, {
      task: 'transcribe',
      language: 'english',
      duration: 3,
      text: ' Hello there. General Kenobi.',
      segments: [
        { id: 0, seek: 0, start: 0.1, end: 1.2, text: ' Hello there.', tokens: [], temperature: 0, avg_logprob: -0.2, compression_ratio: 1, no_speech_prob: 0 },
        { id: 1, seek: 0, start: 1.4, end: 2.9, text: ' General Kenobi. ', tokens: [], temperature: 0.2, avg_logprob: -0.35, compression_ratio: 1.1, no_speech_prob: 0.01 },
      ],
      words: [
        { word: 'Hello', start: 0.1, end: 0.5 },
        { word: 'there', start: 0.6, end: 1.2 },
        { word: 'General', start: 1.4, end: 2.0 },
        { word: 'Kenobi', start: 2.1, end: 2.9 },
      ],
    }),
  );
  try {
    const audio = writeAudio('happy.wav', toneTrack(2, 0.2, 0.5, 1.4).samples);
    const engine = new OpenAIEngine(config({ baseUrl: server.baseUrl }));
    const progress: number[] = [];
    const streamed: EngineSegment[] = [];
    const result = await engine.transcribe(audio, {
      language: 'en',
      prompt: 'Star Wars',
      wordTimestamps: true,
      signal: signal(),
      onProgress: (p) => progress.push(p),
      onSegment: (s) => streamed.push(s),
    });

    assert.equal(server.requests.length, 1);
    const [req] = server.requests;
    assert.equal(req!.method, 'POST');
    assert.equal(req!.url, '/v1/audio/transcriptions');
    assert.equal(req!.headers.authorization, 'Bearer sk-test-key');
    assert.deepEqual(req!.fields.get('model'), ['whisper-1']);
    assert.deepEqual(req!.fields.get('language'), ['en']);
    assert.deepEqual(req!.fields.get('prompt'), ['Star Wars']);
    assert.deepEqual(req!.fields.get('response_format'), ['verbose_json']);
    assert.deepEqual(req!.fields.get('timestamp_granularities[]'), ['word', 'segment']);
    assert.ok(req!.file && isWav(req!.file.bytes), 'the file part is a WAV');
    assert.match(req!.file.name, /\.wav$/);
    assert.equal(parseWav(req!.file.bytes).samples.length, Math.round(audio.durationSeconds * RATE));

    assert.deepEqual(result, {
      language: 'en',
      duration: audio.durationSeconds,
      model: 'whisper-1',
      segments: [
        {
          start: 0.1,
          end: 1.2,
          text: 'Hello there.',
          words: [
            { word: 'Hello', start: 0.1, end: 0.5 },
            { word: 'there', start: 0.6, end: 1.2 },
          ],
          // Each segment keeps the scores the provider gave it.
          avgLogprob: -0.2,
          compressionRatio: 1,
          noSpeechProb: 0,
          temperature: 0,
        },
        {
          start: 1.4,
          end: 2.9,
          text: 'General Kenobi.',
          words: [
            { word: 'General', start: 1.4, end: 2 },
            { word: 'Kenobi', start: 2.1, end: 2.9 },
          ],
          avgLogprob: -0.35,
          compressionRatio: 1.1,
          noSpeechProb: 0.01,
          temperature: 0.2,
        },
      ],
    });
    assert.deepEqual(streamed, result.segments);
    assert.deepEqual(progress, [100]);
  } finally {
    await server.close();
  }
});

test('without word timestamps asks for segments only; options.model wins; detected language is mapped', async () => {
  const server = await fakeSpeech((_req, res) =>
    json(res, 200, {
      language: 'german',
      duration: 1,
      text: 'Hallo',
      segments: [{ start: 0, end: 1, text: ' Hallo ' }],
      words: [{ word: 'Hallo', start: 0, end: 1 }],
    }),
  );
  try {
    const audio = writeAudio('segments.wav', toneTrack(1, 0.1, 0.5, 1).samples);
    const engine = new OpenAIEngine(config({ baseUrl: server.baseUrl }));
    const result = await engine.transcribe(audio, { wordTimestamps: false, model: 'whisper-large-v3', signal: signal() });
    const [req] = server.requests;
    assert.deepEqual(req!.fields.get('timestamp_granularities[]'), ['segment']);
    assert.deepEqual(req!.fields.get('model'), ['whisper-large-v3']);
    assert.equal(req!.fields.get('language'), undefined);
    assert.equal(req!.fields.get('prompt'), undefined);
    assert.equal(result.model, 'whisper-large-v3');
    assert.equal(result.language, 'de');
    assert.deepEqual(result.segments, [{ start: 0, end: 1, text: 'Hallo' }]);
  } finally {
    await server.close();
  }
});

test('a keyless self-hosted server gets no Authorization header', async () => {
  const server = await fakeSpeech((_req, res) => json(res, 200, { language: 'en', text: '', segments: [] }));
  try {
    const audio = writeAudio('keyless.wav', new Int16Array(RATE));
    const engine = new OpenAIEngine(config({ baseUrl: server.baseUrl, apiKey: null }));
    const result = await engine.transcribe(audio, { wordTimestamps: true, signal: signal() });
    assert.equal(server.requests[0]!.headers.authorization, undefined);
    assert.deepEqual(result.segments, []);
  } finally {
    await server.close();
  }
});

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

test('429 and 5xx are transient, keeping their meaning', async () => {
  for (const [status, code] of [[429, 'provider_rate_limited'], [500, 'provider_unavailable'], [503, 'provider_overloaded']] as const) {
    const server = await fakeSpeech((_req, res) =>
      json(res, status, { error: { message: 'Slow down', type: 'rate_limit_exceeded', param: null, code: null } }),
    );
    try {
      const audio = writeAudio('busy.wav', new Int16Array(RATE));
      const engine = new OpenAIEngine(config({ baseUrl: server.baseUrl }));
      await assert.rejects(
        engine.transcribe(audio, { wordTimestamps: true, signal: signal() }),
        (error: unknown) =>
          error instanceof EngineError && error.kind === 'transient' && error.code === code,
      );
      assert.equal(server.requests.length, 1, 'no SDK retries');
    } finally {
      await server.close();
    }
  }
});

test('400 is permanent and carries the provider message', async () => {
  const server = await fakeSpeech((_req, res) =>
    json(res, 400, {
      error: { message: 'Invalid file format. Supported formats: flac, mp3, wav', type: 'invalid_request_error', param: 'file', code: null },
    }),
  );
  try {
    const audio = writeAudio('bad.wav', new Int16Array(RATE));
    const engine = new OpenAIEngine(config({ baseUrl: server.baseUrl }));
    await assert.rejects(
      engine.transcribe(audio, { wordTimestamps: true, signal: signal() }),
      (error: unknown) =>
        error instanceof EngineError &&
        error.kind === 'permanent' &&
        error.code === 'provider_rejected' &&
        error.message.includes('Invalid file format. Supported formats: flac, mp3, wav'),
    );
  } finally {
    await server.close();
  }
});

test('a provider that never answers times out as transient', async () => {
  const server = await fakeSpeech(() => {
    // Never answers.
  });
  try {
    const audio = writeAudio('silent-server.wav', new Int16Array(RATE));
    const engine = new OpenAIEngine(config({ baseUrl: server.baseUrl, timeoutMs: 300 }));
    const started = Date.now();
    await assert.rejects(
      engine.transcribe(audio, { wordTimestamps: true, signal: signal() }),
      (error: unknown) =>
        error instanceof EngineError && error.kind === 'transient' && error.code === 'provider_timeout',
    );
    assert.ok(Date.now() - started < 5000);
  } finally {
    await server.close();
  }
});

test('an unreachable provider is transient', async () => {
  const server = await fakeSpeech(() => undefined);
  const baseUrl = server.baseUrl;
  await server.close();
  const audio = writeAudio('unreachable.wav', new Int16Array(RATE));
  const engine = new OpenAIEngine(config({ baseUrl }));
  await assert.rejects(
    engine.transcribe(audio, { wordTimestamps: true, signal: signal() }),
    (error: unknown) => error instanceof EngineError && error.kind === 'transient' && error.code === 'provider_unavailable',
  );
});

test('aborting mid-request rejects with an AbortError', async () => {
  const server = await fakeSpeech(() => {
    // Holds the request open.
  });
  try {
    const audio = writeAudio('abort.wav', new Int16Array(RATE));
    const engine = new OpenAIEngine(config({ baseUrl: server.baseUrl }));
    const controller = new AbortController();
    const run = engine.transcribe(audio, { wordTimestamps: true, signal: controller.signal });
    await server.received(1);
    controller.abort();
    await assert.rejects(run, (error: unknown) => error instanceof Error && error.name === 'AbortError');
  } finally {
    await server.close();
  }
});

test('no key and no base URL is engine_not_configured', async () => {
  const engine = new OpenAIEngine(config({ apiKey: null, baseUrl: null }));
  await assert.rejects(
    engine.transcribe({ wavPath: '/nonexistent.wav', durationSeconds: 1 }, { wordTimestamps: true, signal: signal() }),
    (error: unknown) =>
      error instanceof EngineError &&
      error.kind === 'permanent' &&
      error.code === 'engine_not_configured' &&
      ['STT_API_KEY', 'OPENAI_API_KEY', 'STT_BASE_URL'].every((name) => error.message.includes(name)),
  );
});
