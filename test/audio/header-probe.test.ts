/**
 * The upload-time header probe against ffmpeg itself: every duration it reads must match what a full
 * decode measures, and broken headers must be AudioDecodeErrors (a 422 upstream), never anything else.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import { AudioDecodeError, measureAudio, NO_AUDIO } from '../../src/audio/decode.js';
import { resolveFfmpeg, runFfmpeg } from '../../src/audio/ffmpeg.js';
import { probeAudioHeader, probeAudioHeaderBytes } from '../../src/audio/header-probe.js';
import { sniffAudio } from '../../src/audio/sniff.js';
import { encodeWav } from '../../src/audio/wav.js';
import { generate, memo, tempDir } from './fixtures.js';

const temp = memo(() => tempDir('header-probe'));
after(async () => (await temp()).remove());

const SOURCE = 'sine=frequency=440:duration=2.5:sample_rate=44100';

interface Case {
  file: string;
  encode: string[];
  mime: string;
  /** How far the header may be from the decoded length, in seconds. */
  tolerance: number;
}

/**
 * One per container and per way of stating the length: PCM sizes, STREAMINFO, Xing+LAME (MPEG-1 and
 * MPEG-2), plain CBR, Ogg granules of three codecs, an MP4 media header.
 */
const CASES: Case[] = [
  { file: 's16.wav', encode: ['-ar', '16000', '-ac', '1', '-c:a', 'pcm_s16le'], mime: 'audio/wav', tolerance: 0.001 },
  { file: 's24-stereo.wav', encode: ['-ac', '2', '-c:a', 'pcm_s24le'], mime: 'audio/wav', tolerance: 0.001 },
  { file: 'f32.wav', encode: ['-c:a', 'pcm_f32le'], mime: 'audio/wav', tolerance: 0.001 },
  { file: 'a.flac', encode: ['-c:a', 'flac'], mime: 'audio/flac', tolerance: 0.001 },
  { file: 'vbr.mp3', encode: ['-c:a', 'libmp3lame', '-q:a', '4'], mime: 'audio/mpeg', tolerance: 0.001 },
  { file: 'mpeg2-mono.mp3', encode: ['-c:a', 'libmp3lame', '-ar', '16000', '-ac', '1'], mime: 'audio/mpeg', tolerance: 0.001 },
  // No Xing tag: the length is estimated from the bitrate, as ffmpeg does.
  { file: 'cbr.mp3', encode: ['-c:a', 'libmp3lame', '-b:a', '64k', '-write_xing', '0'], mime: 'audio/mpeg', tolerance: 0.05 },
  { file: 'vorbis.ogg', encode: ['-c:a', 'libvorbis'], mime: 'audio/ogg', tolerance: 0.05 },
  { file: 'a.opus', encode: ['-c:a', 'libopus'], mime: 'audio/ogg', tolerance: 0.001 },
  { file: 'flac.ogg', encode: ['-c:a', 'flac', '-f', 'ogg'], mime: 'audio/ogg', tolerance: 0.001 },
  // The media header counts AAC's 1024 priming samples, which the decoder drops.
  { file: 'a.m4a', encode: ['-c:a', 'aac'], mime: 'audio/mp4', tolerance: 0.05 },
];

const fixtures = memo(async () => {
  const { dir } = await temp();
  const made = new Map<string, string>();
  for (const c of CASES) made.set(c.file, await generate(path.join(dir, c.file), SOURCE, c.encode));
  return made;
});

async function fixture(name: string): Promise<Buffer> {
  return readFile((await fixtures()).get(name)!);
}

async function rejectsWithReason(promise: Promise<unknown>, reason: RegExp | string): Promise<void> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof AudioDecodeError, `expected AudioDecodeError, got ${String(error)}`);
    if (typeof reason === 'string') assert.equal(error.reason, reason);
    else assert.match(error.reason, reason);
    return;
  }
  assert.fail('the probe should have rejected');
}

for (const c of CASES) {
  test(`${c.file}: the header gives the duration a full ffmpeg decode measures`, async () => {
    const file = (await fixtures()).get(c.file)!;
    const sniffed = await sniffAudio((await readFile(file)).subarray(0, 4100));
    assert.equal(sniffed?.mime, c.mime);
    const header = await probeAudioHeader(file, c.mime);
    const decoded = (await measureAudio(await resolveFfmpeg(null), file)).durationSeconds;
    assert.ok(header !== null, 'the header should tell');
    assert.ok(Math.abs(header - decoded) <= c.tolerance, `header ${header} s, decoded ${decoded} s`);
  });
}

test('formats without a usable length in the header answer null, so the caller decodes', async () => {
  const { dir } = await temp();
  const ffmpeg = await resolveFfmpeg(null);
  const webm = await generate(path.join(dir, 'a.webm'), SOURCE, ['-c:a', 'libopus']);
  assert.equal(await probeAudioHeader(webm, 'audio/webm'), null);
  // Piped FLAC: the encoder could not go back to write the sample count, so STREAMINFO says 0.
  const chunks: Buffer[] = [];
  const collect = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  await runFfmpeg(ffmpeg, ['-f', 'lavfi', '-i', SOURCE, '-c:a', 'flac', '-f', 'flac', 'pipe:1'], { stdout: collect });
  const piped = path.join(dir, 'piped.flac');
  await writeFile(piped, Buffer.concat(chunks));
  assert.equal(await probeAudioHeader(piped, 'audio/flac'), null);
  assert.ok(Math.abs((await measureAudio(ffmpeg, piped)).durationSeconds - 2.5) < 0.01);
});

test('a WAV header that claims an hour over half a second of samples: only the bytes present count', async () => {
  const liar = encodeWav(new Int16Array(8000).fill(1000), 16000);
  liar.writeUInt32LE(3600 * 32000, 40);
  liar.writeUInt32LE(36 + 3600 * 32000, 4);
  assert.equal(await probeAudioHeaderBytes(liar, 'audio/wav'), 0.5);
});

test('the bytes an upload already holds spare opening the file', async () => {
  const wav = await fixture('s16.wav');
  // The path does not exist: only the known head and size can have answered.
  const seconds = await probeAudioHeader('/nonexistent/upload.wav', 'audio/wav', { head: wav.subarray(0, 4100), size: wav.length });
  assert.equal(seconds, 2.5);
  await assert.rejects(probeAudioHeader('/nonexistent/upload.mp3', 'audio/mpeg', { head: Buffer.alloc(0), size: 10_000 }), { code: 'ENOENT' });
});

test('corrupt and truncated headers are AudioDecodeErrors that say what is wrong', async () => {
  const wav = await fixture('s16.wav');
  const flac = await fixture('a.flac');
  const opus = await fixture('a.opus');
  const m4a = await fixture('a.m4a');

  await rejectsWithReason(probeAudioHeaderBytes(Buffer.concat([wav.subarray(0, 12), Buffer.from('this is not a fmt chunk at all'.repeat(50))]), 'audio/wav'), /no fmt chunk/);
  await rejectsWithReason(probeAudioHeaderBytes(wav.subarray(0, 30), 'audio/wav'), /truncated/);
  const noChannels = Buffer.from(wav);
  noChannels.writeUInt16LE(0, 22);
  await rejectsWithReason(probeAudioHeaderBytes(noChannels, 'audio/wav'), /no channels/);
  await rejectsWithReason(probeAudioHeaderBytes(wav.subarray(0, 36), 'audio/wav'), /no data chunk/);
  await rejectsWithReason(probeAudioHeaderBytes(encodeWav(new Int16Array(0), 16000), 'audio/wav'), NO_AUDIO);

  await rejectsWithReason(probeAudioHeaderBytes(flac.subarray(0, 20), 'audio/flac'), /truncated/);
  const zeroRate = Buffer.from(flac);
  zeroRate.fill(0, 8 + 10, 8 + 12);
  zeroRate[8 + 12] = zeroRate[8 + 12]! & 0x0f;
  await rejectsWithReason(probeAudioHeaderBytes(zeroRate, 'audio/flac'), /sample rate of 0/);
  await rejectsWithReason(probeAudioHeaderBytes(flac.subarray(0, flacAudioOffset(flac)), 'audio/flac'), NO_AUDIO);

  const id3 = Buffer.concat([Buffer.from([0x49, 0x44, 0x33, 3, 0, 0, 0, 0, 0, 0]), Buffer.from('garbage after the tag '.repeat(300))]);
  await rejectsWithReason(probeAudioHeaderBytes(id3, 'audio/mpeg'), /no MPEG audio frame/);

  await rejectsWithReason(probeAudioHeaderBytes(opus.subarray(0, 20), 'audio/ogg'), /first Ogg page/);
  // The identification and comment pages, and no audio page after them.
  await rejectsWithReason(probeAudioHeaderBytes(opus.subarray(0, oggPageEnd(opus, 2)), 'audio/ogg'), NO_AUDIO);

  // ffmpeg writes the moov index last: a file cut in half has none.
  await rejectsWithReason(probeAudioHeaderBytes(m4a.subarray(0, Math.floor(m4a.length / 2)), 'audio/mp4'), /no moov box/);
});

test('cut at any length or scribbled over, a file never makes the probe fail with anything but AudioDecodeError', async () => {
  let seed = 42;
  const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  for (const c of CASES) {
    const bytes = await fixture(c.file);
    const variants: Buffer[] = [];
    for (let length = 0; length <= 600; length += 7) variants.push(bytes.subarray(0, length));
    for (let i = 0; i < 40; i++) variants.push(bytes.subarray(0, Math.floor(random() * bytes.length)));
    for (let i = 0; i < 60; i++) {
      const scribbled = Buffer.from(bytes);
      for (let j = 0; j < 8; j++) scribbled[Math.floor(random() * Math.min(scribbled.length, 1024))] = Math.floor(random() * 256);
      variants.push(scribbled);
    }
    for (const variant of variants) {
      try {
        const seconds = await probeAudioHeaderBytes(variant, c.mime);
        assert.ok(seconds === null || (Number.isFinite(seconds) && seconds > 0), `${c.file}: ${seconds}`);
      } catch (error) {
        assert.ok(error instanceof AudioDecodeError, `${c.file} (${variant.length} bytes): ${String(error)}`);
      }
    }
  }
});

/** Where a FLAC file's first audio frame starts: after its last metadata block. */
function flacAudioOffset(flac: Buffer): number {
  let offset = 4;
  for (;;) {
    const last = (flac[offset]! & 0x80) !== 0;
    offset += 4 + flac.readUIntBE(offset + 1, 3);
    if (last) return offset;
  }
}

/** The offset just after the `count`-th Ogg page. */
function oggPageEnd(ogg: Buffer, count: number): number {
  let offset = 0;
  for (let page = 0; page < count; page++) {
    const segments = ogg[offset + 26]!;
    const lacing = ogg.subarray(offset + 27, offset + 27 + segments);
    offset += 27 + segments + lacing.reduce((sum, n) => sum + n, 0);
  }
  return offset;
}
