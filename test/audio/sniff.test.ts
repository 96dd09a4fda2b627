import assert from 'node:assert/strict';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, test } from 'node:test';
import { DEFAULT_AUDIO_TYPES } from '../../src/config.js';
import {
  canonicalAudioType,
  isAllowedAudioType,
  SNIFF_BYTES,
  sniffAudio,
  sniffAudioFile,
} from '../../src/audio/sniff.js';
import { FORMATS, generate, memo, sineFixtures, tempDir } from './fixtures.js';

const temp = memo(() => tempDir('sniff'));
const fixtures = memo(async () => sineFixtures((await temp()).dir));
after(async () => (await temp()).remove());

for (const format of FORMATS) {
  test(`${format.name} sniffs as ${format.mime}, which the default list allows`, async () => {
    const file = (await fixtures()).get(format.name)!;
    // A misleading name changes nothing: only the bytes count.
    const renamed = path.join((await temp()).dir, `renamed-${format.name}.txt`);
    await copyFile(file, renamed);
    for (const candidate of [file, renamed]) {
      const sniffed = await sniffAudioFile(candidate);
      assert.deepEqual(sniffed, { mime: format.mime, extension: format.extension });
      assert.ok(sniffed);
      assert.ok(isAllowedAudioType(sniffed.mime, DEFAULT_AUDIO_TYPES));
    }
  });
}

test('a PNG or a text file named .wav is not audio', async () => {
  const { dir } = await temp();
  const png = await generate(path.join(dir, 'picture.png'), 'testsrc=size=32x32:duration=1', ['-frames:v', '1']);
  await copyFile(png, path.join(dir, 'picture.wav'));
  await writeFile(path.join(dir, 'notes.wav'), 'These are my meeting notes, not a recording.\n'.repeat(20));
  await writeFile(path.join(dir, 'doc.wav'), '%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n');
  for (const name of ['picture.wav', 'notes.wav', 'doc.wav']) {
    assert.equal(await sniffAudioFile(path.join(dir, name)), null, name);
  }
});

test('an empty file or buffer is not audio', async () => {
  const { dir } = await temp();
  await writeFile(path.join(dir, 'empty.wav'), '');
  assert.equal(await sniffAudioFile(path.join(dir, 'empty.wav')), null);
  assert.equal(await sniffAudio(new Uint8Array(0)), null);
});

test('the head of a file is enough; a magic number is no proof of decodability', async () => {
  const wav = (await readFile((await fixtures()).get('wav')!)).subarray(0, 12);
  assert.deepEqual(await sniffAudio(wav), { mime: 'audio/wav', extension: 'wav' });
  assert.equal(SNIFF_BYTES, 4100);
  // A WAV magic number followed by anything still sniffs as WAV: sniffing is no proof of decodability.
  const spoof = Buffer.concat([Buffer.from('RIFF\x24\x00\x01\x00WAVE', 'latin1'), Buffer.alloc(10_000, 'x')]);
  assert.deepEqual(await sniffAudio(spoof), { mime: 'audio/wav', extension: 'wav' });
});

test('a video-only MP4 sniffs as audio/mp4: the decoder is what finds it has no audio', async () => {
  const { dir } = await temp();
  const mp4 = await generate(path.join(dir, 'silent-film.mp4'), 'testsrc=size=64x64:duration=1', ['-c:v', 'mpeg4']);
  assert.deepEqual(await sniffAudioFile(mp4), { mime: 'audio/mp4', extension: 'mp4' });
});

test('ADTS AAC is audio off the default list; Matroska (.mka) is video to file-type', async () => {
  const { dir } = await temp();
  const aac = await generate(path.join(dir, 'x.aac'), 'sine=duration=1', ['-c:a', 'aac']);
  const sniffed = await sniffAudioFile(aac);
  assert.deepEqual(sniffed, { mime: 'audio/aac', extension: 'aac' });
  assert.ok(sniffed);
  assert.equal(isAllowedAudioType(sniffed.mime, DEFAULT_AUDIO_TYPES), false);
  assert.ok(isAllowedAudioType(sniffed.mime, [...DEFAULT_AUDIO_TYPES, 'audio/aac']));
  // file-type calls any Matroska video/matroska: not audio for us.
  const mka = await generate(path.join(dir, 'x.mka'), 'sine=duration=1', ['-c:a', 'libopus']);
  assert.equal(await sniffAudioFile(mka), null);
});

test('canonical types and the seed spellings of ALLOWED_AUDIO_TYPES', () => {
  assert.equal(canonicalAudioType('audio/ogg; codecs=opus'), 'audio/ogg');
  assert.equal(canonicalAudioType(' Audio/X-WAV '), 'audio/wav');
  const seed = ['audio/mp3', 'audio/m4a', 'audio/x-wav', 'audio/x-flac', 'audio/opus', 'video/webm'];
  for (const mime of ['audio/mpeg', 'audio/mp4', 'audio/wav', 'audio/flac', 'audio/ogg', 'audio/webm']) {
    assert.ok(isAllowedAudioType(mime, seed), mime);
  }
  const pairs: [string, string][] = [
    ['audio/mp3', 'audio/mpeg'],
    ['audio/m4a', 'audio/mp4'],
    ['audio/x-m4a', 'audio/mp4'],
    ['audio/x-wav', 'audio/wav'],
    ['audio/wave', 'audio/wav'],
    ['audio/x-flac', 'audio/flac'],
    ['audio/opus', 'audio/ogg'],
    ['video/webm', 'audio/webm'],
  ];
  for (const [alias, canonical] of pairs) {
    assert.ok(isAllowedAudioType(canonical, [alias]), `${alias} allows ${canonical}`);
    assert.ok(isAllowedAudioType(alias, [canonical]), `${canonical} allows ${alias}`);
  }
  assert.equal(isAllowedAudioType('audio/mpeg', ['audio/wav', 'audio/flac']), false);
  assert.equal(isAllowedAudioType('image/png', DEFAULT_AUDIO_TYPES), false);
  assert.equal(isAllowedAudioType('', DEFAULT_AUDIO_TYPES), false);
  assert.equal(isAllowedAudioType('audio/wav', []), false);
});
