import assert from 'node:assert/strict';
import { copyFile, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, test } from 'node:test';
import { AudioDecodeError, decodeToWav, NO_AUDIO } from '../../src/audio/decode.js';
import { resolveFfmpeg } from '../../src/audio/ffmpeg.js';
import { sniffAudioFile } from '../../src/audio/sniff.js';
import { encodeWav, parseWav } from '../../src/audio/wav.js';
import { FORMATS, ffmpegProcesses, filesIn, generate, memo, sineFixtures, tempDir } from './fixtures.js';

const temp = memo(() => tempDir('decode'));
const fixtures = memo(async () => sineFixtures((await temp()).dir));
after(async () => (await temp()).remove());

/** A fresh, empty output folder per test, so "nothing left behind" is checkable. */
async function outputDir(name: string): Promise<string> {
  return path.join((await temp()).dir, `out-${name}`);
}

async function rejectsAsDecodeError(promise: Promise<unknown>): Promise<AudioDecodeError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof AudioDecodeError, `expected AudioDecodeError, got ${String(error)}`);
    return error;
  }
  assert.fail('decoding should have failed');
}

for (const format of FORMATS) {
  test(`${format.name} decodes to 2.0 s of 16 kHz mono PCM`, async () => {
    const ffmpeg = await resolveFfmpeg(null);
    const out = await outputDir(format.name);
    const audio = await decodeToWav(ffmpeg, (await fixtures()).get(format.name)!, out, {
      signal: new AbortController().signal,
    });
    assert.equal(path.dirname(audio.wavPath), out);
    assert.ok(Math.abs(audio.durationSeconds - 2) <= 0.1, `${audio.durationSeconds} s`);
    const wav = parseWav(await readFile(audio.wavPath));
    assert.equal(wav.sampleRate, 16000);
    assert.equal(wav.channels, 1);
    assert.equal(wav.samples.length / 16000, audio.durationSeconds);
    // -bitexact: no LIST chunk, a plain 44-byte header.
    assert.equal((await stat(audio.wavPath)).size, 44 + wav.samples.length * 2);
    // Not silence: a 440 Hz sine at ffmpeg's default amplitude (1/8 of full scale).
    const peak = wav.samples.reduce((max, sample) => Math.max(max, Math.abs(sample)), 0);
    assert.ok(peak > 3000 && peak < 5000, `peak ${peak}`);
  });
}

test('the duration comes from the decoded data, not from the container', async () => {
  const ffmpeg = await resolveFfmpeg(null);
  const { dir } = await temp();
  // A WAV header that claims an hour of audio over 0.5 s of samples.
  const real = encodeWav(new Int16Array(8000).fill(1000), 16000);
  real.writeUInt32LE(3600 * 32000, 40);
  real.writeUInt32LE(36 + 3600 * 32000, 4);
  const liar = path.join(dir, 'liar.wav');
  await writeFile(liar, real);
  const audio = await decodeToWav(ffmpeg, liar, await outputDir('liar'));
  assert.equal(audio.durationSeconds, 0.5);
});

test('a RIFF/WAVE header followed by garbage is undecodable, in ffmpeg words', async () => {
  const ffmpeg = await resolveFfmpeg(null);
  const { dir } = await temp();
  const file = path.join(dir, 'garbage-riff.wav');
  await writeFile(file, Buffer.concat([Buffer.from('RIFF\x24\x00\x01\x00WAVE', 'latin1'), Buffer.alloc(4000, 'x')]));
  assert.equal((await sniffAudioFile(file))?.mime, 'audio/wav');
  const out = await outputDir('garbage-riff');
  const error = await rejectsAsDecodeError(decodeToWav(ffmpeg, file, out));
  assert.equal(error.reason, 'Invalid data found when processing input');
  assert.equal(error.message, 'The audio could not be decoded: Invalid data found when processing input');
  assert.deepEqual(await filesIn(out), []);
});

test('an ID3 header followed by garbage is undecodable, and the reason names no server path', async () => {
  const ffmpeg = await resolveFfmpeg(null);
  const { dir } = await temp();
  const file = path.join(dir, 'garbage-id3.mp3');
  // ID3v2.4 declaring an 8000-byte tag (more than the sniffed head), then text.
  const header = Buffer.from([0x49, 0x44, 0x33, 0x04, 0x00, 0x00, 0x00, 0x00, 0x3e, 0x40]);
  await writeFile(file, Buffer.concat([header, Buffer.from('garbage! '.repeat(400))]));
  assert.equal((await sniffAudioFile(file))?.mime, 'audio/mpeg');
  const out = await outputDir('garbage-id3');
  const error = await rejectsAsDecodeError(decodeToWav(ffmpeg, file, out));
  assert.ok(error.reason.length > 0);
  assert.ok(!error.reason.includes(dir), error.reason);
  assert.ok(!error.reason.includes('['), error.reason);
  assert.deepEqual(await filesIn(out), []);
});

test('an mp3 cut after 300 bytes (no whole frame) is a decode error; cut in the middle, it decodes what is there', async () => {
  const ffmpeg = await resolveFfmpeg(null);
  const { dir } = await temp();
  const mp3 = await readFile((await fixtures()).get('mp3')!);

  const stub = path.join(dir, 'stub.mp3');
  await writeFile(stub, mp3.subarray(0, 300));
  assert.equal((await sniffAudioFile(stub))?.mime, 'audio/mpeg');
  const out = await outputDir('stub');
  const error = await rejectsAsDecodeError(decodeToWav(ffmpeg, stub, out));
  // The ID3 tag and part of the Xing frame, no audio frame. ffmpeg 4.1 and 5.1 both say
  // "Invalid frame size (208): Could not seek to 435 (Invalid argument)".
  assert.match(error.reason, /^Invalid frame size \(\d+\): Could not seek to \d+ \(Invalid argument\)$/);
  assert.deepEqual(await filesIn(out), []);

  const half = path.join(dir, 'half.mp3');
  await writeFile(half, mp3.subarray(0, Math.floor(mp3.length / 2)));
  const audio = await decodeToWav(ffmpeg, half, await outputDir('half'));
  assert.ok(Math.abs(audio.durationSeconds - 1) <= 0.1, `${audio.durationSeconds} s`);
});

test('an empty file, text, and a PNG are decode errors; a PNG has no audio', async () => {
  const ffmpeg = await resolveFfmpeg(null);
  const { dir } = await temp();
  const out = await outputDir('not-audio');
  const empty = path.join(dir, 'empty.wav');
  await writeFile(empty, '');
  assert.equal((await rejectsAsDecodeError(decodeToWav(ffmpeg, empty, out))).reason, 'Invalid data found when processing input');
  const text = path.join(dir, 'text.wav');
  await writeFile(text, 'hello, this is not a recording\n'.repeat(50));
  assert.equal((await rejectsAsDecodeError(decodeToWav(ffmpeg, text, out))).reason, 'Invalid data found when processing input');
  const png = await generate(path.join(dir, 'picture.png'), 'testsrc=size=32x32:duration=1', ['-frames:v', '1']);
  const pictureWav = path.join(dir, 'picture.wav');
  await copyFile(png, pictureWav);
  assert.equal((await rejectsAsDecodeError(decodeToWav(ffmpeg, pictureWav, out))).reason, NO_AUDIO);
  assert.deepEqual(await filesIn(out), []);
});

test('a video without an audio stream, and a WAV with zero samples, contain no audio', async () => {
  const ffmpeg = await resolveFfmpeg(null);
  const { dir } = await temp();
  const out = await outputDir('no-audio');
  const film = await generate(path.join(dir, 'silent-film.mp4'), 'testsrc=size=64x64:duration=1', ['-c:v', 'mpeg4']);
  const error = await rejectsAsDecodeError(decodeToWav(ffmpeg, film, out));
  assert.equal(error.reason, 'the file contains no audio');
  const nothing = path.join(dir, 'nothing.wav');
  await writeFile(nothing, encodeWav(new Int16Array(0), 16000));
  assert.equal((await rejectsAsDecodeError(decodeToWav(ffmpeg, nothing, out))).reason, NO_AUDIO);
  assert.deepEqual(await filesIn(out), []);
});

test('a missing input is not a decode error', async () => {
  const ffmpeg = await resolveFfmpeg(null);
  const { dir } = await temp();
  await assert.rejects(decodeToWav(ffmpeg, path.join(dir, 'nope.wav'), await outputDir('missing')), (error) => {
    assert.ok(!(error instanceof AudioDecodeError));
    assert.equal((error as NodeJS.ErrnoException).code, 'ENOENT');
    return true;
  });
});

test('aborting a long decode kills ffmpeg promptly and leaves nothing behind', async () => {
  const ffmpeg = await resolveFfmpeg(null);
  const { dir } = await temp();
  // Ten minutes of 48 kHz stereo FLAC: several hundred ms of decoding and resampling.
  const long = await generate(path.join(dir, 'ten-minutes.flac'), 'sine=frequency=440:duration=600:sample_rate=48000', [
    '-ac', '2', '-c:a', 'flac',
  ]);
  const out = await outputDir('abort');
  const controller = new AbortController();
  let abortedAt = 0;
  setTimeout(() => {
    abortedAt = performance.now();
    controller.abort();
  }, 50);
  await assert.rejects(decodeToWav(ffmpeg, long, out, { signal: controller.signal }), { name: 'AbortError' });
  const latency = performance.now() - abortedAt;
  assert.ok(abortedAt > 0, 'the decode ended before the abort');
  assert.ok(latency < 1000, `rejected ${latency.toFixed(0)} ms after the abort`);
  assert.deepEqual(await filesIn(out), []);
  assert.deepEqual(await ffmpegProcesses(long), []);
});

test('an already aborted signal rejects without starting ffmpeg', async () => {
  const ffmpeg = await resolveFfmpeg(null);
  const reason = new Error('shutting down');
  const out = await outputDir('pre-aborted');
  await assert.rejects(
    decodeToWav(ffmpeg, (await fixtures()).get('wav')!, out, { signal: AbortSignal.abort(reason) }),
    (error) => error === reason,
  );
  assert.deepEqual(await filesIn(out), []);
});
