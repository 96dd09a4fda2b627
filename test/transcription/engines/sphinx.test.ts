import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { encodeWav, parseWav } from '../../../src/audio/wav.js';
import { EngineError, type EngineSegment, type PcmAudio } from '../../../src/transcription/engines/engine.js';
import { SphinxEngine, SphinxOutputParser } from '../../../src/transcription/engines/sphinx.js';

const DATA = '/usr/share/pocketsphinx/test/data/librivox';
const BINARY = 'pocketsphinx_continuous';

function binaryAvailable(): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${BINARY}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const available = binaryAvailable() && existsSync(path.join(DATA, 'transcription'));
const skip = available ? false : `${BINARY} or pocketsphinx-testdata is not installed`;

const engine = new SphinxEngine({ binary: BINARY, hmm: null });
const work = mkdtempSync(path.join(tmpdir(), 'sphinx-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

function audioOf(wavPath: string): PcmAudio {
  const pcm = parseWav(readFileSync(wavPath));
  return { wavPath, durationSeconds: pcm.samples.length / pcm.channels / pcm.sampleRate };
}

/** `<s> words … </s> (utterance-id)` per line. */
function references(): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of readFileSync(path.join(DATA, 'transcription'), 'utf8').split('\n')) {
    const match = /^(.*)\((\S+)\)\s*$/.exec(line.trim());
    if (!match) continue;
    map.set(match[2]!, match[1]!.replace(/<\/?s>/g, ' '));
  }
  return map;
}

function normalise(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}'\s]/gu, ' ')
    .split(/\s+/)
    .filter((w) => w.length > 0);
}

/** Word-level Levenshtein distance: substitutions + insertions + deletions. */
function wordErrors(reference: string[], hypothesis: string[]): number {
  let previous = Array.from({ length: hypothesis.length + 1 }, (_, j) => j);
  for (let i = 1; i <= reference.length; i++) {
    const current = [i];
    for (let j = 1; j <= hypothesis.length; j++) {
      const cost = reference[i - 1] === hypothesis[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[hypothesis.length]!;
}

async function pool<T, R>(items: T[], size: number, run: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await run(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, worker));
  return results;
}

function pidsRunningWith(fragment: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(fragment)) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

test('parses utterances, dropping fillers and pronunciation markers', () => {
  const parser = new SphinxOutputParser();
  const out: EngineSegment[] = [];
  const lines = [
    'and mr john',
    '<s> 0.000 0.140 0.999400',
    'and(2) 0.150 0.360 0.260057',
    '<sil> 0.370 0.400 0.5',
    '[NOISE] 0.400 0.450 0.5',
    '++BREATH++ 0.450 0.470 0.5',
    'mr 0.470 0.620 0.988762',
    'john 0.630 1.000 0.929128',
    '</s> 1.010 1.080 1.000000',
    '',
    '<s> 1.100 1.200 1.0',
    '</s> 1.200 1.300 1.0',
    'he was',
    '<s> 2.000 2.010 1.0',
    'he 2.010 2.100 0.9',
    'was(3) 2.100 2.500 0.8',
  ];
  for (const line of lines) {
    const segment = parser.line(line);
    if (segment) out.push(segment);
  }
  const last = parser.finish();
  if (last) out.push(last);
  assert.equal(out.length, 2);
  assert.deepEqual(
    out.map((s) => [s.start, s.end, s.text]),
    [
      [0.15, 1, 'and mr john'],
      [2.01, 2.5, 'he was'],
    ],
  );
  assert.deepEqual(out[1]!.words, [
    { word: 'he', start: 2.01, end: 2.1, confidence: 0.9 },
    { word: 'was', start: 2.1, end: 2.5, confidence: 0.8 },
  ]);
  assert.equal(parser.lastTime, 2.5);
});

test('transcribes the LibriVox clips with WER ≤ 40% and sane timings', { skip, timeout: 120_000 }, async (t) => {
  const refs = references();
  const clips = readdirSync(DATA)
    .filter((f) => f.endsWith('.wav'))
    .sort();
  assert.ok(clips.length >= 5, `found ${clips.length} clips`);

  const runs = await pool(clips, 2, async (clip) => {
    const audio = audioOf(path.join(DATA, clip));
    const progress: number[] = [];
    const streamed: EngineSegment[] = [];
    const result = await engine.transcribe(audio, {
      wordTimestamps: true,
      signal: AbortSignal.timeout(60_000),
      onProgress: (p) => progress.push(p),
      onSegment: (s) => streamed.push(s),
    });
    return { clip, audio, result, progress, streamed };
  });

  let errors = 0;
  let words = 0;
  for (const { clip, audio, result, progress, streamed } of runs) {
    const id = clip.replace(/\.wav$/, '');
    const reference = refs.get(id);
    assert.ok(reference !== undefined, `no reference for ${id}`);

    assert.equal(result.language, 'en');
    assert.equal(result.model, 'pocketsphinx-en-us');
    assert.equal(result.duration, audio.durationSeconds);
    assert.ok(result.segments.length > 0, `${clip}: no segments`);
    assert.deepEqual(streamed, result.segments, `${clip}: onSegment once per returned segment`);

    let previousStart = 0;
    for (const segment of result.segments) {
      assert.ok(segment.text.trim().length > 0, `${clip}: empty segment text`);
      assert.ok(segment.start <= segment.end);
      assert.ok(segment.words && segment.words.length > 0);
      assert.equal(segment.text, segment.words.map((w) => w.word).join(' '));
      for (const word of segment.words) {
        assert.ok(word.start <= word.end, `${clip}: ${JSON.stringify(word)}`);
        assert.ok(word.start >= previousStart, `${clip}: starts go backwards at ${JSON.stringify(word)}`);
        assert.ok(word.start >= 0 && word.end <= audio.durationSeconds + 0.05, `${clip}: ${JSON.stringify(word)}`);
        assert.doesNotMatch(word.word, /^<|^\[|^\+\+|\(\d+\)$/, `${clip}: filler or marker left in ${word.word}`);
        previousStart = word.start;
      }
    }

    assert.ok(progress.length > 0);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i]! >= progress[i - 1]!, `${clip}: ${progress.join(', ')}`);
    assert.ok(progress.at(-1)! >= 99, `${clip}: progress ended at ${progress.at(-1)}`);
    assert.ok(progress.every((p) => p >= 0 && p <= 100));

    const ref = normalise(reference);
    const hyp = normalise(result.segments.map((s) => s.text).join(' '));
    const e = wordErrors(ref, hyp);
    errors += e;
    words += ref.length;
    t.diagnostic(`${id}: WER ${((e / ref.length) * 100).toFixed(1)}% (${e}/${ref.length}) hyp="${hyp.join(' ')}"`);
  }
  const wer = errors / words;
  t.diagnostic(`overall WER ${(wer * 100).toFixed(1)}% (${errors}/${words})`);
  assert.ok(wer <= 0.4, `WER ${(wer * 100).toFixed(1)}%`);
});

test('refuses languages other than English before running anything', async () => {
  // A bogus binary: had the engine spawned, the error would be engine_unavailable.
  const bogus = new SphinxEngine({ binary: 'no-such-pocketsphinx-binary', hmm: null });
  await assert.rejects(
    bogus.transcribe(
      { wavPath: '/nonexistent.wav', durationSeconds: 1 },
      { language: 'es', wordTimestamps: true, signal: new AbortController().signal },
    ),
    (error: unknown) =>
      error instanceof EngineError && error.kind === 'permanent' && error.code === 'language_not_supported',
  );
});

test('a missing binary is engine_unavailable with an install hint', async () => {
  const bogus = new SphinxEngine({ binary: 'no-such-pocketsphinx-binary', hmm: null });
  for (const language of [undefined, 'en', 'en-GB']) {
    await assert.rejects(
      bogus.transcribe(
        { wavPath: '/nonexistent.wav', durationSeconds: 1 },
        { language, wordTimestamps: true, signal: new AbortController().signal },
      ),
      (error: unknown) =>
        error instanceof EngineError &&
        error.kind === 'permanent' &&
        error.code === 'engine_unavailable' &&
        error.message.includes('apt-get install pocketsphinx pocketsphinx-en-us'),
    );
  }
});

test('a failing decoder is a transient engine_failed', { skip }, async () => {
  const bad = path.join(work, 'not-audio.wav');
  writeFileSync(bad, 'this is not a wav file');
  const broken = new SphinxEngine({ binary: BINARY, hmm: path.join(work, 'no-such-model') });
  await assert.rejects(
    broken.transcribe({ wavPath: bad, durationSeconds: 1 }, { wordTimestamps: true, signal: new AbortController().signal }),
    (error: unknown) => error instanceof EngineError && error.kind === 'transient' && error.code === 'engine_failed',
  );
});

test('aborting kills pocketsphinx and rejects with an AbortError', { skip, timeout: 30_000 }, async () => {
  // A private copy with a unique name, long enough (~25 s of speech) to still be decoding at 200 ms.
  const pcm = readdirSync(DATA)
    .filter((f) => f.endsWith('.wav'))
    .sort()
    .map((f) => parseWav(readFileSync(path.join(DATA, f))).samples);
  const joined = new Int16Array(pcm.reduce((n, s) => n + s.length, 0));
  let offset = 0;
  for (const samples of pcm) {
    joined.set(samples, offset);
    offset += samples.length;
  }
  const wavPath = path.join(work, `abort-${process.pid}-${Date.now()}.wav`);
  writeFileSync(wavPath, encodeWav(joined, 16_000));

  const controller = new AbortController();
  const run = engine.transcribe(
    { wavPath, durationSeconds: joined.length / 16_000 },
    { wordTimestamps: true, signal: controller.signal },
  );
  // 200 ms in, or later on a loaded machine if the process has not shown up yet.
  const started = Date.now();
  let pids: number[] = [];
  while (Date.now() - started < 5000) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    pids = pidsRunningWith(wavPath);
    if (pids.length > 0 && Date.now() - started >= 200) break;
  }
  assert.equal(pids.length, 1, 'pocketsphinx should be running 200 ms in');
  const abortedAt = Date.now();
  controller.abort();
  await assert.rejects(run, (error: unknown) => error instanceof Error && error.name === 'AbortError');
  // Killed, not left to finish its ~25 s of audio.
  assert.ok(Date.now() - abortedAt < 3000, `rejected ${Date.now() - abortedAt} ms after the abort`);
  assert.equal(alive(pids[0]!), false, `pid ${pids[0]} is still there`);
  assert.deepEqual(pidsRunningWith(wavPath), []);
});

test('an already-aborted signal rejects without running', async () => {
  const controller = new AbortController();
  controller.abort(new DOMException('stop', 'AbortError'));
  await assert.rejects(
    engine.transcribe(
      { wavPath: '/nonexistent.wav', durationSeconds: 1 },
      { wordTimestamps: true, signal: controller.signal },
    ),
    (error: unknown) => error instanceof Error && error.name === 'AbortError',
  );
});
