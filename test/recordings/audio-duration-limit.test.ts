/**
 * MAX_AUDIO_DURATION_SECONDS: audio over it is refused at upload (413 audio_too_long) from its
 * header without starting ffmpeg, or by a decode that stops at the limit; a header that understates
 * the length passes the upload and fails the job permanently with the same code.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { bombWav, understatedFlac } from '../audio/bombs.js';
import { generate, memo, tempDir } from '../audio/fixtures.js';
import { describeEachDatabase } from '../helpers/app.js';
import { audioForm } from '../helpers/audio.js';
import { bearer, postUpload, registerUser } from '../helpers/factory.js';
import { filesUnder } from '../helpers/files.js';

const temp = memo(() => tempDir('duration-upload'));
after(async () => (await temp()).remove());

function assertTooLong(res: { statusCode: number; body: string }): void {
  assert.equal(res.statusCode, 413, res.body);
  const problem = JSON.parse(res.body) as { code: string; detail: string };
  assert.equal(problem.code, 'audio_too_long');
  assert.match(problem.detail, /^The audio is /);
}

describeEachDatabase(
  'the decode bomb, with the default limit (FFMPEG_PATH broken on purpose)',
  (ctx) => {
    test('a 95 KB WAV of 47,840 s is 413 audio_too_long from its header, and nothing is stored', async () => {
      const { app, config } = ctx();
      assert.equal(config.maxAudioDurationSeconds, 4 * 3600);
      const user = await registerUser(app);
      const res = await postUpload(app, user, audioForm(bombWav(), 'bomb.wav'));
      assertTooLong(res);
      assert.match(JSON.parse(res.body).detail, /47840 s long; the limit is 14400 s/);
      assert.deepEqual(await filesUnder(path.join(config.dataDir, 'blobs')), []);
    });
  },
  { FFMPEG_PATH: '/nonexistent/ffmpeg' },
);

describeEachDatabase(
  'MAX_AUDIO_DURATION_SECONDS=60',
  (ctx) => {
    const upload = async (bytes: Buffer, name: string) => {
      const { app } = ctx();
      const user = await registerUser(app);
      const res = await postUpload(app, user, audioForm(bytes, name));
      return { res, user };
    };

    test('two minutes of FLAC (length in its header) and of WebM (decoded) are refused; one minute is not', async () => {
      const { dir } = await temp();
      const blobs = path.join(ctx().config.dataDir, 'blobs');
      const before = await filesUnder(blobs);
      const flac = await generate(path.join(dir, 'two-minutes.flac'), 'sine=frequency=440:sample_rate=8000:duration=120', ['-c:a', 'flac']);
      assertTooLong((await upload(await readFile(flac), 'two-minutes.flac')).res);
      const webm = await generate(path.join(dir, 'two-minutes.webm'), 'sine=frequency=440:duration=120', ['-c:a', 'libopus', '-b:a', '16k']);
      assertTooLong((await upload(await readFile(webm), 'two-minutes.webm')).res);
      assert.deepEqual(await filesUnder(blobs), before);

      const minute = await generate(path.join(dir, 'one-minute.webm'), 'sine=frequency=440:duration=59', ['-c:a', 'libopus', '-b:a', '16k']);
      assert.equal((await upload(await readFile(minute), 'one-minute.webm')).res.statusCode, 201);
    });

    test('a header that understates the length: accepted at upload, the job fails at once with audio_too_long', async () => {
      const { app } = ctx();
      const jobFolders = async () => (await readdir(tmpdir())).filter((name) => name.startsWith(`transcribo-job-${process.pid}-`));
      const foldersBefore = await jobFolders();
      const flac = await understatedFlac((await temp()).dir, { realSeconds: 150, claimedSeconds: 30 });
      const { res: up, user } = await upload(await readFile(flac), 'understated.flac');
      assert.equal(up.statusCode, 201, up.body);
      assert.equal(up.json().duration_seconds, 30);

      const res = await app.inject({
        method: 'POST',
        url: `/api/v1/audio/${up.json().id}/transcribe?wait=60`,
        headers: bearer(user.accessToken),
      });
      assert.equal(res.statusCode, 200, res.body);
      const t = res.json();
      assert.equal(t.status, 'failed', res.body);
      assert.equal(t.error_code, 'audio_too_long');
      assert.match(t.error, /^The audio is longer than the limit of 60 s/);
      const job = await app.inject({ method: 'GET', url: `/api/v1/jobs/${t.job_id}`, headers: bearer(user.accessToken) });
      assert.equal(job.json().attempts, 1, 'not retried');
      assert.deepEqual(await jobFolders(), foldersBefore, 'the job removed its folder');
    });
  },
  { MAX_AUDIO_DURATION_SECONDS: '60', MAX_FILE_SIZE: '4000000', JOB_ATTEMPTS: '3' },
  { startQueue: true },
);
