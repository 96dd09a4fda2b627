import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { describeEachDatabase } from '../helpers/app.js';
import { audioForm, encode, FORMATS, shortClip, type FormatName } from '../helpers/audio.js';
import { bearer, postUpload, registerUser } from '../helpers/factory.js';
import { filesUnder } from '../helpers/files.js';

const MAX = 200_000;

describeEachDatabase(
  'audio uploads',
  (ctx) => {
    const clip = shortClip();
    const blobsDir = () => path.join(ctx().config.dataDir, 'blobs');

    test('a WAV upload streams to the blob store with size, sha256, type and decoded duration', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const bytes = await readFile(clip.wavPath);
      const res = await postUpload(app, user, audioForm(bytes, 'meeting.wav', { language: 'en' }));
      assert.equal(res.statusCode, 201, res.body);
      const rec = res.json();
      assert.equal(rec.kind, 'audio');
      assert.equal(rec.title, 'meeting.wav');
      assert.equal(rec.language, 'en');
      assert.equal(rec.mime_type, 'audio/wav');
      assert.equal(rec.size_bytes, bytes.length);
      assert.equal(rec.sha256, createHash('sha256').update(bytes).digest('hex'));
      assert.ok(Math.abs(rec.duration_seconds - 2.99) < 0.1, String(rec.duration_seconds));
      assert.equal(rec.transcription, null);

      const file = await app.inject({ method: 'GET', url: `/api/v1/audio/${rec.id}/file`, headers: bearer(user.accessToken) });
      assert.equal(file.statusCode, 200);
      assert.equal(file.headers['content-type'], 'audio/wav');
      assert.equal(file.headers['accept-ranges'], 'bytes');
      assert.ok(file.rawPayload.equals(bytes));
    });

    test('Range requests: first bytes, suffix, open end, and 416 past the end', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const bytes = await readFile(clip.wavPath);
      const up = await postUpload(app, user, audioForm(bytes, 'a.wav'));
      const id = up.json().id;
      const get = (range: string) =>
        app.inject({ method: 'GET', url: `/api/v1/audio/${id}/file`, headers: { ...bearer(user.accessToken), range } });

      const first = await get('bytes=0-99');
      assert.equal(first.statusCode, 206);
      assert.equal(first.headers['content-range'], `bytes 0-99/${bytes.length}`);
      assert.ok(first.rawPayload.equals(bytes.subarray(0, 100)));

      const suffix = await get('bytes=-10');
      assert.equal(suffix.statusCode, 206);
      assert.ok(suffix.rawPayload.equals(bytes.subarray(bytes.length - 10)));

      const open = await get(`bytes=${bytes.length - 5}-`);
      assert.equal(open.statusCode, 206);
      assert.equal(open.rawPayload.length, 5);

      const past = await get(`bytes=${bytes.length}-`);
      assert.equal(past.statusCode, 416);
      assert.equal(past.headers['content-range'], `bytes */${bytes.length}`);
    });

    for (const format of Object.keys(FORMATS) as FormatName[]) {
      test(`${format} round-trips: stored byte for byte, typed ${FORMATS[format].mime} from its content`, async () => {
        const { app } = ctx();
        const user = await registerUser(app);
        const bytes = await readFile(encode(clip.wavPath, format));
        // The declared name and type lie on purpose: only the content decides.
        const res = await postUpload(app, user, audioForm(bytes, 'recording.bin', {}, 'application/pdf'));
        assert.equal(res.statusCode, 201, res.body);
        const rec = res.json();
        assert.equal(rec.mime_type, FORMATS[format].mime);
        assert.ok(Math.abs(rec.duration_seconds - 2.99) < 0.15, `${format}: ${rec.duration_seconds}`);
        const file = await app.inject({ method: 'GET', url: `/api/v1/audio/${rec.id}/file`, headers: bearer(user.accessToken) });
        assert.ok(file.rawPayload.equals(bytes));
      });
    }

    test('over MAX_FILE_SIZE: 413 and nothing left behind', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const before = await filesUnder(blobsDir());
      const big = Buffer.concat([await readFile(clip.wavPath), await readFile(clip.wavPath), await readFile(clip.wavPath)]);
      assert.ok(big.length > MAX);
      const res = await postUpload(app, user, audioForm(big, 'big.wav'));
      assert.equal(res.statusCode, 413, res.body);
      assert.equal(res.json().code, 'payload_too_large');
      assert.deepEqual(await filesUnder(blobsDir()), before);
      const list = await app.inject({ method: 'GET', url: '/api/v1/audio/', headers: bearer(user.accessToken) });
      assert.equal(list.json().items.length, 0);
    });

    test('spoofed type: a PNG named .wav and declared audio/wav is 415', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const png = Buffer.from(
        'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
        'base64',
      );
      const res = await postUpload(app, user, audioForm(png, 'voice.wav', {}, 'audio/wav'));
      assert.equal(res.statusCode, 415, res.body);
      assert.equal(res.json().code, 'unsupported_media_type');
    });

    test('empty file is 400; a form without a file is 422', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const empty = await postUpload(app, user, audioForm(Buffer.alloc(0), 'empty.wav'));
      assert.equal(empty.statusCode, 400, empty.body);
      const form = new FormData();
      form.append('title', 'no file');
      const none = await postUpload(app, user, form);
      assert.equal(none.statusCode, 422, none.body);
    });

    test('audio that sniffs right but does not decode is 422 with the reason, and nothing is stored', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const before = await filesUnder(blobsDir());
      const header = (await readFile(clip.wavPath)).subarray(0, 12);
      const corrupt = Buffer.concat([header, Buffer.from('this is not a fmt chunk at all'.repeat(200))]);
      const res = await postUpload(app, user, audioForm(corrupt, 'broken.wav'));
      assert.equal(res.statusCode, 422, res.body);
      assert.match(res.json().detail, /cannot be decoded: \S/);
      assert.deepEqual(await filesUnder(blobsDir()), before);
    });

    test('a file name with path separators becomes a plain title and never a path', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const res = await postUpload(app, user, audioForm(await readFile(clip.wavPath), '../../etc/..\\secret/passwd.wav'));
      assert.equal(res.statusCode, 201, res.body);
      assert.equal(res.json().title, 'passwd.wav');
      for (const file of await filesUnder(blobsDir())) {
        assert.ok(file.startsWith(blobsDir()), file);
        assert.ok(!file.includes('passwd'), file);
      }
    });

    test('bad form fields are 422 and leave nothing behind', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const before = await filesUnder(blobsDir());
      const res = await postUpload(app, user, audioForm(await readFile(clip.wavPath), 'a.wav', { language: 'not a language!' }));
      assert.equal(res.statusCode, 422, res.body);
      assert.equal(res.json().errors[0].field, 'language');
      assert.deepEqual(await filesUnder(blobsDir()), before);
    });

    test('deleting a recording deletes its blob; another user cannot read or delete it', async () => {
      const { app } = ctx();
      const owner = await registerUser(app);
      const other = await registerUser(app);
      const before = await filesUnder(blobsDir());
      const up = await postUpload(app, owner, audioForm(await readFile(clip.wavPath), 'a.wav'));
      const id = up.json().id;
      assert.equal((await filesUnder(blobsDir())).length, before.length + 1);
      for (const [method, url] of [
        ['GET', `/api/v1/audio/${id}/file`],
        ['POST', `/api/v1/audio/${id}/transcribe`],
        ['DELETE', `/api/v1/audio/${id}`],
      ] as const) {
        const res = await app.inject({ method, url, headers: bearer(other.accessToken) });
        assert.equal(res.statusCode, 404, `${method} ${url}`);
      }
      const del = await app.inject({ method: 'DELETE', url: `/api/v1/audio/${id}`, headers: bearer(owner.accessToken) });
      assert.equal(del.statusCode, 204);
      assert.deepEqual(await filesUnder(blobsDir()), before);
    });
  },
  { MAX_FILE_SIZE: String(MAX) },
);

describeEachDatabase(
  'audio uploads with a narrower ALLOWED_AUDIO_TYPES',
  (ctx) => {
    const clip = shortClip();
    test('a type outside ALLOWED_AUDIO_TYPES is 415 even though it is audio', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const res = await postUpload(app, user, audioForm(await readFile(encode(clip.wavPath, 'flac')), 'x.flac'));
      assert.equal(res.statusCode, 415, res.body);
      assert.match(res.json().detail, /audio\/flac/);
    });

  },
  { ALLOWED_AUDIO_TYPES: 'audio/wav,audio/mp3' },
);
