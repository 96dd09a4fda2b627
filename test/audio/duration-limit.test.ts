/**
 * MAX_AUDIO_DURATION_SECONDS while decoding: ffmpeg stops just past the limit, whatever the header
 * said, so a lying header cannot make it write more; the call fails with audio_too_long.
 */
import assert from 'node:assert/strict';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';
import { decodedWavBound, decodeToWav, measureAudio } from '../../src/audio/decode.js';
import { resolveFfmpeg } from '../../src/audio/ffmpeg.js';
import { probeAudioHeaderBytes } from '../../src/audio/header-probe.js';
import { AppError } from '../../src/http/errors.js';
import { bombWav, understatedFlac } from './bombs.js';
import { filesIn, generate, memo, tempDir } from './fixtures.js';

const temp = memo(() => tempDir('duration-limit'));
after(async () => (await temp()).remove());

function isTooLong(error: unknown): boolean {
  assert.ok(error instanceof AppError, `expected an AppError, got ${String(error)}`);
  assert.equal(error.code, 'audio_too_long');
  assert.equal(error.status, 413);
  return true;
}

async function bytesUnder(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir).catch(() => [])) total += (await stat(path.join(dir, name)).catch(() => ({ size: 0 }))).size;
  return total;
}

test('audio within the limit decodes and measures as before', async () => {
  const ffmpeg = await resolveFfmpeg(null);
  const { dir } = await temp();
  const clip = await generate(path.join(dir, 'five.webm'), 'sine=frequency=440:duration=5', ['-c:a', 'libopus']);
  assert.ok(Math.abs((await measureAudio(ffmpeg, clip, { maxSeconds: 10 })).durationSeconds - 5) < 0.05);
  const audio = await decodeToWav(ffmpeg, clip, path.join(dir, 'out-within'), { maxSeconds: 10 });
  assert.ok(Math.abs(audio.durationSeconds - 5) < 0.05);
});

test('audio over the limit is audio_too_long, measured or decoded, and nothing is left behind', async () => {
  const ffmpeg = await resolveFfmpeg(null);
  const { dir } = await temp();
  const clip = await generate(path.join(dir, 'thirty.webm'), 'sine=frequency=440:duration=30', ['-c:a', 'libopus']);
  await assert.rejects(measureAudio(ffmpeg, clip, { maxSeconds: 10 }), isTooLong);
  const out = path.join(dir, 'out-over');
  await assert.rejects(decodeToWav(ffmpeg, clip, out, { maxSeconds: 10 }), isTooLong);
  assert.deepEqual(await filesIn(out), []);
});

test('a FLAC whose header understates its length passes the header check, then stops at the limit', async () => {
  const ffmpeg = await resolveFfmpeg(null);
  const { dir } = await temp();
  const flac = await understatedFlac(dir, { realSeconds: 120, claimedSeconds: 30 });
  assert.equal(await probeAudioHeaderBytes(await readFile(flac), 'audio/flac'), 30);
  await assert.rejects(decodeToWav(ffmpeg, flac, path.join(dir, 'out-flac'), { maxSeconds: 60 }), isTooLong);
});

test('the 1 Hz WAV bomb (47,840 s in 95 KB) never writes more than the limit allows', async () => {
  const ffmpeg = await resolveFfmpeg(null);
  const { dir } = await temp();
  const bomb = path.join(dir, 'bomb.wav');
  await writeFile(bomb, bombWav());
  assert.equal((await stat(bomb)).size, 95_724);
  assert.equal(await probeAudioHeaderBytes(await readFile(bomb), 'audio/wav'), 47_840);

  const out = path.join(dir, 'out-bomb');
  let most = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      most = Math.max(most, await bytesUnder(out));
      await sleep(2);
    }
  })();
  try {
    await assert.rejects(decodeToWav(ffmpeg, bomb, out, { maxSeconds: 10 }), isTooLong);
  } finally {
    sampling = false;
    await sampler;
  }
  // ffmpeg may finish the packet that crosses -fs: a few KB.
  assert.ok(most <= decodedWavBound(10) + 64 * 1024, `${most} bytes written for a bound of ${decodedWavBound(10)}`);
  assert.deepEqual(await filesIn(out), []);
});
