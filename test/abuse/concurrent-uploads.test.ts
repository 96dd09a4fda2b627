/**
 * 200 concurrent small uploads all succeed, with the decoder count bounded. WebM is used because
 * its header gives no length, so every upload needs an ffmpeg decode and goes through the limiter
 * (WAV, the format of the report, is now measured from its header without ffmpeg at all).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { generate, memo, tempDir } from '../audio/fixtures.js';
import { describeEachDatabase } from '../helpers/app.js';
import { audioForm, withFfmpegPeak } from '../helpers/audio.js';
import { bearer, registerUser } from '../helpers/factory.js';

const UPLOADS = 200;
const temp = memo(() => tempDir('concurrent-uploads'));
after(async () => (await temp()).remove());

describeEachDatabase('200 concurrent uploads', (ctx) => {
  test('every one is stored, and never more decoders than cores run at once', async () => {
    const { app } = ctx();
    const user = await registerUser(app);
    const clip = await readFile(
      await generate(path.join((await temp()).dir, 'clip.webm'), 'sine=frequency=440:duration=1', ['-c:a', 'libopus']),
    );
    const { result: responses, most } = await withFfmpegPeak(() =>
      Promise.all(
        Array.from({ length: UPLOADS }, (_, i) =>
          app.inject({
            method: 'POST',
            url: '/api/v1/audio/upload',
            headers: bearer(user.accessToken),
            payload: audioForm(clip, `${i}.webm`),
          }),
        ),
      ),
    );
    const failed = responses.filter((res) => res.statusCode !== 201);
    assert.deepEqual(failed.map((res) => `${res.statusCode} ${res.body}`), []);
    for (const res of responses) assert.ok(Math.abs(res.json().duration_seconds - 1) < 0.05, res.body);
    assert.equal(new Set(responses.map((res) => res.json().id)).size, UPLOADS);
    assert.ok(most >= 1, 'the sampler saw the decoders');
    assert.ok(most <= availableParallelism(), `${most} decoders ran at once for ${availableParallelism()} cores`);
  });
});
