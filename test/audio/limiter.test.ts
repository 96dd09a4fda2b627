/** The decoder limiter, with real ffmpeg decodes as the work: a queue, never a pile of processes. */
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { measureAudio } from '../../src/audio/decode.js';
import { resolveFfmpeg } from '../../src/audio/ffmpeg.js';
import { ConcurrencyLimiter, uploadDecoders } from '../../src/audio/limiter.js';
import { withFfmpegPeak } from '../helpers/audio.js';
import { generate, memo, tempDir } from './fixtures.js';

const temp = memo(() => tempDir('limiter'));
after(async () => (await temp()).remove());

const clip = memo(async () => generate(path.join((await temp()).dir, 'clip.webm'), 'sine=frequency=440:duration=3', ['-c:a', 'libopus']));


test('at most N real decodes run at once, the rest queue, and every one completes', async () => {
  const ffmpeg = await resolveFfmpeg(null);
  const file = await clip();
  const limit = 2;
  const limiter = new ConcurrencyLimiter(limit);
  let inside = 0;
  let mostInside = 0;
  let mostQueued = 0;
  const { result: durations, most: mostProcesses } = await withFfmpegPeak(() =>
    Promise.all(
      Array.from({ length: 8 }, () =>
        limiter.run(async () => {
          inside++;
          mostInside = Math.max(mostInside, inside);
          mostQueued = Math.max(mostQueued, limiter.queued);
          assert.ok(limiter.active <= limit);
          try {
            return (await measureAudio(ffmpeg, file)).durationSeconds;
          } finally {
            inside--;
          }
        }),
      ),
    ),
  );
  assert.equal(mostInside, limit, 'the limit is reached, and never passed');
  assert.ok(mostQueued > 0, 'the others waited');
  assert.ok(mostProcesses >= 1, 'the sampler saw the decoders');
  assert.ok(mostProcesses <= limit, `${mostProcesses} ffmpeg processes ran at once`);
  for (const seconds of durations) assert.ok(Math.abs(seconds - 3) < 0.05, String(seconds));
  assert.equal(limiter.active, 0);
  assert.equal(limiter.queued, 0);
});

test('a failing task gives its slot back, and waiters start in the order they came', async () => {
  const ffmpeg = await resolveFfmpeg(null);
  const limiter = new ConcurrencyLimiter(1);
  const started: number[] = [];
  const runs = Array.from({ length: 5 }, (_, i) =>
    limiter.run(async () => {
      started.push(i);
      // Odd tasks decode a file that does not exist: ffmpeg fails, the slot must still be released.
      return measureAudio(ffmpeg, i % 2 ? '/nonexistent/audio.wav' : await clip());
    }),
  );
  const outcomes = await Promise.allSettled(runs);
  assert.deepEqual(started, [0, 1, 2, 3, 4]);
  assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
  assert.equal(limiter.active, 0);
  assert.equal(await limiter.run(async () => 'still usable'), 'still usable');
});

test('the uploads share one limiter sized to the cores, and a limit must be a positive integer', () => {
  assert.equal(uploadDecoders.limit, availableParallelism());
  for (const bad of [0, -1, 1.5, Number.NaN]) assert.throws(() => new ConcurrencyLimiter(bad), RangeError);
});
