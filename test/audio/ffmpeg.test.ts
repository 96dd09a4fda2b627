import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, test } from 'node:test';
import { decodeToWav } from '../../src/audio/decode.js';
import {
  bundledFfmpeg,
  FfmpegError,
  ffmpegErrorReason,
  locateFfmpeg,
  resolveFfmpeg,
  runFfmpeg,
} from '../../src/audio/ffmpeg.js';
import { parseWav } from '../../src/audio/wav.js';
import { FORMATS, memo, sineFixtures, tempDir } from './fixtures.js';

const run = promisify(execFile);
const temp = memo(() => tempDir('ffmpeg'));
const fixtures = memo(async () => sineFixtures((await temp()).dir));
after(async () => (await temp()).remove());

test('a FFMPEG_PATH that does not exist is an error naming FFMPEG_PATH', async () => {
  await assert.rejects(resolveFfmpeg('/nonexistent/bin/ffmpeg'), {
    message: 'FFMPEG_PATH=/nonexistent/bin/ffmpeg: no such file',
  });
  await assert.rejects(resolveFfmpeg('no-such-ffmpeg-anywhere'), /^Error: FFMPEG_PATH=no-such-ffmpeg-anywhere/);
});

test('a FFMPEG_PATH that is not ffmpeg is an error naming FFMPEG_PATH', async () => {
  const { dir } = await temp();
  const notExecutable = path.join(dir, 'readme.txt');
  await writeFile(notExecutable, 'ffmpeg lives elsewhere\n');
  await assert.rejects(resolveFfmpeg(notExecutable), (error: Error) => {
    assert.match(error.message, /^FFMPEG_PATH=.*readme\.txt does not run as ffmpeg: permission denied/);
    return true;
  });
  const impostor = path.join(dir, 'fake-ffmpeg');
  await writeFile(impostor, '#!/bin/sh\necho "I am not ffmpeg"\n');
  await chmod(impostor, 0o755);
  await assert.rejects(resolveFfmpeg(impostor), /FFMPEG_PATH=.*fake-ffmpeg does not run as ffmpeg: `-version` did not print/);
  await assert.rejects(resolveFfmpeg(dir), /FFMPEG_PATH=.*: not a file/);
});

test('a working FFMPEG_PATH is used as given, and cached', async () => {
  const system = await locateFfmpeg(null);
  const first = resolveFfmpeg(system);
  assert.equal(resolveFfmpeg(system), first);
  assert.equal(await first, system);
});

test('without FFMPEG_PATH, ffmpeg on PATH is found as an absolute path', async () => {
  const found = await resolveFfmpeg(null);
  assert.ok(path.isAbsolute(found), found);
  assert.equal(await resolveFfmpeg(null), found);
  assert.equal(await resolveFfmpeg('  '), found);
  const { stdout } = await run(found, ['-version']);
  assert.match(stdout, /^ffmpeg version /);
});

test('with no ffmpeg on PATH, the @ffmpeg-installer binary is the fallback', async () => {
  const { dir } = await temp();
  const bundled = await bundledFfmpeg();
  assert.match(bundled, /node_modules\/@ffmpeg-installer\//);
  assert.equal(await locateFfmpeg(null, dir), bundled);
  assert.equal(await locateFfmpeg(null, ''), bundled);
});

test('the @ffmpeg-installer fallback decodes every fixture format', async () => {
  const bundled = await bundledFfmpeg();
  const { dir } = await temp();
  for (const format of FORMATS) {
    const audio = await decodeToWav(bundled, (await fixtures()).get(format.name)!, path.join(dir, 'bundled-out'));
    assert.ok(Math.abs(audio.durationSeconds - 2) <= 0.1, `${format.name}: ${audio.durationSeconds} s`);
    const wav = parseWav(await readFile(audio.wavPath));
    assert.deepEqual([wav.sampleRate, wav.channels], [16000, 1], format.name);
  }
});

test('runFfmpeg rejects with ffmpeg’s own reason, without the file name', async () => {
  const ffmpeg = await resolveFfmpeg(null);
  const { dir } = await temp();
  const junk = path.join(dir, 'junk.bin');
  await writeFile(junk, 'not media at all\n'.repeat(100));
  await assert.rejects(runFfmpeg(ffmpeg, ['-i', junk, '-f', 'null', '-']), (error) => {
    assert.ok(error instanceof FfmpegError);
    assert.equal(error.reason, 'Invalid data found when processing input');
    assert.equal(error.exitCode, 1);
    assert.match(error.stderr, /junk\.bin: Invalid data found/);
    return true;
  });
  const result = await runFfmpeg(ffmpeg, ['-f', 'lavfi', '-i', 'sine=duration=0.1', '-f', 'null', '-']);
  assert.equal(result.stderr, '');
});

test('runFfmpeg: a binary that cannot start is a plain error, not an FfmpegError', async () => {
  await assert.rejects(runFfmpeg('/nonexistent/ffmpeg', ['-version']), (error) => {
    assert.ok(!(error instanceof FfmpegError));
    assert.match((error as Error).message, /could not run ffmpeg \(\/nonexistent\/ffmpeg\): spawn .*ENOENT/);
    return true;
  });
});

test('ffmpegErrorReason picks the last meaningful line across ffmpeg versions', () => {
  // ffmpeg 4.1 and 5.1.
  assert.equal(
    ffmpegErrorReason(
      "[wav @ 0x55f7039439c0] no 'fmt ' or 'XMA2' tag found\nfile:/tmp/x/rg.wav: Invalid data found when processing input\n",
      ['-i', 'file:/tmp/x/rg.wav'],
    ),
    'Invalid data found when processing input',
  );
  assert.equal(
    ffmpegErrorReason(
      '[mp3 @ 0x5606fcc369c0] Failed to read frame size: Could not seek to 2823.\nfile:/tmp/x/ig.mp3: Invalid argument\n',
      ['-i', 'file:/tmp/x/ig.mp3'],
    ),
    'Failed to read frame size: Could not seek to 2823 (Invalid argument)',
  );
  // ffmpeg 6 and 7 wrap the reason.
  assert.equal(
    ffmpegErrorReason(
      '[in#0 @ 0x6000] Error opening input: Invalid data found when processing input\n' +
        'Error opening input file /tmp/x/junk.bin.\n' +
        'Error opening input files: Invalid data found when processing input\n',
      ['-i', '/tmp/x/junk.bin'],
    ),
    'Invalid data found when processing input',
  );
  assert.equal(ffmpegErrorReason('Output file #0 does not contain any stream\n'), 'Output file #0 does not contain any stream');
  assert.equal(ffmpegErrorReason('Something odd\nConversion failed!\n'), 'Something odd');
  assert.equal(ffmpegErrorReason('\n  \n'), null);
});
