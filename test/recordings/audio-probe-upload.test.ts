/**
 * Uploads checked from their container headers: no ffmpeg at upload for the formats whose header
 * tells the length, a bounded number of decoders for the others, 422 for broken headers, and a
 * permanent job failure for a file whose header is fine but whose audio is not.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { generate, memo, tempDir } from '../audio/fixtures.js';
import { describeEachDatabase } from '../helpers/app.js';
import { audioForm, withFfmpegPeak } from '../helpers/audio.js';
import { bearer, postUpload, registerUser } from '../helpers/factory.js';
import { filesUnder } from '../helpers/files.js';

const SOURCE = 'sine=frequency=440:duration=2.5';
const temp = memo(() => tempDir('probe-upload'));
after(async () => (await temp()).remove());

/** Each format whose header states its length, made by ffmpeg. */
const HEADER_FORMATS = {
  'a.wav': { encode: ['-ar', '16000', '-ac', '1', '-c:a', 'pcm_s16le'], mime: 'audio/wav' },
  'a.flac': { encode: ['-c:a', 'flac'], mime: 'audio/flac' },
  'a.mp3': { encode: ['-c:a', 'libmp3lame', '-b:a', '64k'], mime: 'audio/mpeg' },
  'a.ogg': { encode: ['-c:a', 'libvorbis'], mime: 'audio/ogg' },
  'a.opus': { encode: ['-c:a', 'libopus'], mime: 'audio/ogg' },
  'a.m4a': { encode: ['-c:a', 'aac'], mime: 'audio/mp4' },
} as const;
type HeaderFormat = keyof typeof HEADER_FORMATS;

const fixture = (() => {
  const made = new Map<string, Promise<Buffer>>();
  return (name: string, encode: readonly string[], source = SOURCE): Promise<Buffer> => {
    let bytes = made.get(name);
    if (!bytes) {
      bytes = temp().then(async ({ dir }) => readFile(await generate(path.join(dir, name), source, [...encode])));
      made.set(name, bytes);
    }
    return bytes;
  };
})();
const headerFixture = (name: HeaderFormat) => fixture(name, HEADER_FORMATS[name].encode);
// Long enough that, unbounded, the decodes of a burst would overlap.
const webm = () => fixture('a.webm', ['-c:a', 'libopus'], 'sine=frequency=440:duration=60');

/** Bytes of the ID3v2 tag at the start of an MP3 (its size is 4 bytes of 7 bits). */
function id3Length(mp3: Buffer): number {
  if (mp3.toString('latin1', 0, 3) !== 'ID3') return 0;
  return 10 + ((mp3[6]! << 21) | (mp3[7]! << 14) | (mp3[8]! << 7) | mp3[9]!);
}

/** A Vorbis file whose first page and last granule are intact but whose setup header is garbage. */
async function brokenVorbis(): Promise<Buffer> {
  const ogg = Buffer.from(await headerFixture('a.ogg'));
  const second = ogg.indexOf('OggS', 4);
  ogg.fill(0x33, second + 60, second + 400);
  return ogg;
}

describeEachDatabase(
  'audio uploads checked from their headers (FFMPEG_PATH broken on purpose)',
  (ctx) => {
    const blobsDir = () => path.join(ctx().config.dataDir, 'blobs');
    const upload = async (bytes: Buffer, name: string) => {
      const { app } = ctx();
      const user = await registerUser(app);
      return postUpload(app, user, audioForm(bytes, name));
    };

    for (const name of Object.keys(HEADER_FORMATS) as HeaderFormat[]) {
      test(`${name}: 201 with the duration from its header, and no ffmpeg needed`, async () => {
        const res = await upload(await headerFixture(name), name);
        assert.equal(res.statusCode, 201, res.body);
        assert.equal(res.json().mime_type, HEADER_FORMATS[name].mime);
        assert.ok(Math.abs(res.json().duration_seconds - 2.5) < 0.05, String(res.json().duration_seconds));
      });
    }

    test('corrupt or truncated headers are 422 with the reason, and nothing is stored', async () => {
      const before = await filesUnder(blobsDir());
      const wav = await headerFixture('a.wav');
      const flac = await headerFixture('a.flac');
      const opus = await headerFixture('a.opus');
      const mp3 = await headerFixture('a.mp3');
      const cases: [Buffer, string, RegExp][] = [
        [wav.subarray(0, 30), 'cut.wav', /truncated/],
        [Buffer.concat([wav.subarray(0, 12), Buffer.from('no chunks here '.repeat(400))]), 'nofmt.wav', /no fmt chunk/],
        [flac.subarray(0, 24), 'cut.flac', /truncated/],
        // Its tag and the start of its first frame (enough to sniff as MP3), then no frames at all.
        [Buffer.concat([mp3.subarray(0, id3Length(mp3) + 100), Buffer.from('not an mpeg frame '.repeat(400))]), 'cut.mp3', /no MPEG audio frame/],
        // Its first two pages (the Opus headers): an Ogg stream with no audio.
        [opus.subarray(0, opus.indexOf('OggS', opus.indexOf('OggS', 4) + 4)), 'headers.opus', /contains no audio/],
      ];
      for (const [bytes, name, reason] of cases) {
        const res = await upload(bytes, name);
        assert.equal(res.statusCode, 422, `${name}: ${res.body}`);
        assert.equal(res.json().code, 'validation_failed');
        assert.match(res.json().detail, /^The audio cannot be decoded: /);
        assert.match(res.json().detail, reason, name);
        assert.equal(res.json().errors[0].field, 'file');
      }
      assert.deepEqual(await filesUnder(blobsDir()), before);
    });
  },
  { FFMPEG_PATH: '/nonexistent/ffmpeg', MAX_FILE_SIZE: '2000000' },
);

describeEachDatabase(
  'audio uploads whose header does not tell their length',
  (ctx) => {
    test('a burst of WebM uploads is decoded at most one per core at a time, and every one succeeds', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const bytes = await webm();
      const { result: responses, most } = await withFfmpegPeak(() =>
        Promise.all(
          Array.from({ length: 4 * availableParallelism() + 2 }, (_, i) =>
            postUpload(app, user, audioForm(bytes, `${i}.webm`)),
          ),
        ),
      );
      for (const res of responses) {
        assert.equal(res.statusCode, 201, res.body);
        assert.ok(Math.abs(res.json().duration_seconds - 60) < 0.05, String(res.json().duration_seconds));
      }
      assert.ok(most >= 1, 'the sampler saw the decoders');
      assert.ok(most <= availableParallelism(), `${most} decoders ran at once for ${availableParallelism()} cores`);
    });

    test('a WebM that does not decode is still 422 with ffmpeg\'s reason', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const bytes = Buffer.from(await webm());
      bytes.fill(0x42, 200);
      const res = await postUpload(app, user, audioForm(bytes, 'bad.webm'));
      assert.equal(res.statusCode, 422, res.body);
      assert.match(res.json().detail, /^The audio cannot be decoded: \S/);
    });
  },
  { MAX_FILE_SIZE: '2000000' },
);

describeEachDatabase(
  'transcribing a file whose header passed but whose audio does not decode',
  (ctx) => {
    test('the job fails at once, permanently, saying why; the upload itself was accepted', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const up = await postUpload(app, user, audioForm(await brokenVorbis(), 'broken.ogg'));
      assert.equal(up.statusCode, 201, up.body);
      assert.ok(Math.abs(up.json().duration_seconds - 2.5) < 0.05);

      const res = await app.inject({
        method: 'POST',
        url: `/api/v1/audio/${up.json().id}/transcribe?wait=60`,
        headers: bearer(user.accessToken),
      });
      assert.equal(res.statusCode, 200, res.body);
      const t = res.json();
      assert.equal(t.status, 'failed');
      assert.equal(t.error_code, 'audio_undecodable');
      assert.match(t.error, /^The audio cannot be decoded: \S/);
      assert.doesNotMatch(t.error, /could not be decoded/, 'said once, not twice');
      const job = await app.inject({ method: 'GET', url: `/api/v1/jobs/${t.job_id}`, headers: bearer(user.accessToken) });
      assert.equal(job.json().status, 'failed');
      assert.equal(job.json().attempts, 1, 'bad input is not retried');
    });
  },
  { MAX_FILE_SIZE: '2000000', JOB_ATTEMPTS: '3' },
  { startQueue: true },
);
