/**
 * POST /v1/audio/transcriptions with stream=true, read with the official openai SDK: OpenAI's
 * transcript.text.delta / transcript.text.done events as the sphinx engine produces segments.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import OpenAI, { toFile } from 'openai';
import { memo, tempDir } from '../audio/fixtures.js';
import { describeEachDatabase } from '../helpers/app.js';
import { LIBRIVOX_DIR, audioForm, shortClip } from '../helpers/audio.js';
import { bearer, registerUser, type TestUser } from '../helpers/factory.js';
import { waitUntil } from '../helpers/server-process.js';

const temp = memo(() => tempDir('openai-stream'));
after(async () => (await temp()).remove());

const clip = (id: string) => path.join(LIBRIVOX_DIR, `sense_and_sensibility_01_austen_64kb-${id}.wav`);

/** LibriVox clips joined by `gap` seconds of silence, as one 16 kHz mono WAV. */
async function joined(name: string, ids: string[], gap: number): Promise<string> {
  const out = path.join((await temp()).dir, name);
  const inputs: string[] = [];
  const parts: string[] = [];
  ids.forEach((id, i) => {
    if (i > 0) {
      inputs.push('-f', 'lavfi', '-t', String(gap), '-i', 'anullsrc=r=16000:cl=mono');
      parts.push(`[${parts.length}:a]`);
    }
    inputs.push('-i', clip(id));
    parts.push(`[${parts.length}:a]`);
  });
  execFileSync('ffmpeg', ['-nostdin', '-hide_banner', '-loglevel', 'error', '-y', ...inputs, '-filter_complex',
    `${parts.join('')}concat=n=${parts.length}:v=0:a=1`, '-ar', '16000', '-ac', '1', '-c:a', 'pcm_s16le', out]);
  return out;
}

const twoSentences = memo(() => joined('two.wav', ['0880', '0930'], 1.5));

describeEachDatabase(
  'OpenAI-compatible streamed transcription',
  (ctx) => {
    let client: OpenAI;
    let user: TestUser;
    let baseURL: string;
    let apiKey: string;

    before(async () => {
      const { app } = ctx();
      await app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = app.server.address() as AddressInfo;
      user = await registerUser(app);
      const key = await app.inject({ method: 'POST', url: '/api/v1/auth/api-keys', headers: bearer(user.accessToken), payload: { name: 'sdk' } });
      apiKey = key.json().key;
      baseURL = `http://127.0.0.1:${port}/v1`;
      client = new OpenAI({ apiKey, baseURL, maxRetries: 0, timeout: 120_000 });
    });

    const latestTranscription = async () => {
      const { app } = ctx();
      const list = await app.inject({ method: 'GET', url: '/api/v1/audio/', headers: bearer(user.accessToken) });
      const recording = list.json().items[0];
      const t = await app.inject({ method: 'GET', url: `/api/v1/audio/${recording.id}/transcription`, headers: bearer(user.accessToken) });
      return t.json();
    };

    test('deltas per segment as the engine makes them, then done: the deltas add up to the stored text', async () => {
      const wav = await twoSentences();
      const stream = await client.audio.transcriptions.create({ file: createReadStream(wav), model: 'sphinx', stream: true });
      const deltas: string[] = [];
      let done: OpenAI.Audio.TranscriptionTextDoneEvent | undefined;
      for await (const event of stream) {
        assert.equal(done, undefined, 'nothing after done');
        if (event.type === 'transcript.text.delta') deltas.push(event.delta);
        else if (event.type === 'transcript.text.done') done = event;
        else assert.fail(`unexpected event ${JSON.stringify(event)}`);
      }
      assert.ok(done, 'a done event');
      assert.ok(deltas.length >= 1, 'deltas before done');
      assert.equal(deltas.join(''), done.text);
      assert.match(done.text, /young man/);
      const stored = await latestTranscription();
      assert.equal(stored.status, 'completed');
      assert.equal(done.text, stored.text);
      // One delta per stored segment: they came from the engine's segments as they were made, not
      // from the finished text in one piece.
      assert.ok(stored.segments.length >= 2, `segments: ${stored.segments.length}`);
      assert.equal(deltas.length, stored.segments.length);
      const usage = done.usage as unknown as { type: string; seconds: number };
      assert.equal(usage.type, 'duration');
      const seconds = Number(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', wav]).toString());
      assert.ok(Math.abs(usage.seconds - seconds) < 0.1, `usage ${usage.seconds} s, clip ${seconds} s`);
    });

    test('stream with srt, vtt or verbose_json is 400 with param response_format', async () => {
      for (const format of ['srt', 'vtt', 'verbose_json'] as const) {
        await assert.rejects(
          client.audio.transcriptions.create({ file: createReadStream(shortClip().wavPath), model: 'sphinx', response_format: format, stream: true }),
          (error: unknown) => {
            assert.ok(error instanceof OpenAI.BadRequestError, String(error));
            assert.equal((error.error as { param?: string }).param, 'response_format');
            return true;
          },
        );
      }
    });

    test('a job that fails after the stream began ends it with an error event the SDK raises', async () => {
      // Passes the upload's header check, fails the job's full decode.
      const ogg = path.join((await temp()).dir, 'broken.ogg');
      execFileSync('ffmpeg', ['-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=2.5', '-c:a', 'libvorbis', ogg]);
      const bytes = await readFile(ogg);
      bytes.fill(0x33, bytes.indexOf('OggS', 4) + 60, bytes.indexOf('OggS', 4) + 400);
      const stream = await client.audio.transcriptions.create({ file: await toFile(bytes, 'broken.ogg'), model: 'sphinx', stream: true });
      await assert.rejects(
        (async () => {
          for await (const event of stream) assert.notEqual(event.type, 'transcript.text.done');
        })(),
        (error: unknown) => {
          assert.ok(error instanceof OpenAI.APIError, String(error));
          assert.equal((error.error as { code?: string }).code, 'audio_undecodable');
          assert.equal((error.error as { type?: string }).type, 'invalid_request_error');
          return true;
        },
      );
    });

    test('errors before the stream starts are ordinary OpenAI errors', async () => {
      await assert.rejects(
        client.audio.transcriptions.create({ file: createReadStream(shortClip().wavPath), model: 'sphinx', language: 'fr', stream: true }),
        (error: unknown) => error instanceof OpenAI.BadRequestError && (error.error as { code?: string }).code === 'language_not_supported',
      );
      const res = await fetch(`${baseURL}/audio/transcriptions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}` },
        body: audioForm(await readFile(shortClip().wavPath), 'a.wav', { model: 'sphinx', stream: 'yes' }),
      });
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as { error: { param: string } }).error.param, 'stream');
    });

    test('chunking_strategy: bad values are 400 with param chunking_strategy, before anything is stored', async () => {
      const before = (await ctx().app.inject({ method: 'GET', url: '/api/v1/audio/', headers: bearer(user.accessToken) })).json().items.length;
      const wav = await readFile(shortClip().wavPath);
      const post = (fields: Record<string, string>) =>
        fetch(`${baseURL}/audio/transcriptions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${apiKey}` },
          body: audioForm(wav, 'a.wav', { model: 'sphinx', ...fields }),
        });
      const cases: Record<string, string>[] = [
        { chunking_strategy: 'manual' },
        { chunking_strategy: '{"type":"server_vad"' },
        { chunking_strategy: '["auto"]' },
        { chunking_strategy: '{"type":"semantic_vad"}' },
        { chunking_strategy: '{"type":"server_vad","threshold":1.5}' },
        { chunking_strategy: '{"type":"server_vad","silence_duration_ms":-1}' },
        { chunking_strategy: '{"type":"server_vad","eagerness":"low"}' },
        { 'chunking_strategy[type]': 'server_vad', 'chunking_strategy[prefix_padding_ms]': 'lots' },
      ];
      for (const fields of cases) {
        const res = await post(fields);
        assert.equal(res.status, 400, JSON.stringify(fields));
        const body = (await res.json()) as { error: { param: string; type: string } };
        assert.equal(body.error.param, 'chunking_strategy', JSON.stringify(fields));
        assert.equal(body.error.type, 'invalid_request_error');
      }
      // The SDK sends an object as bracketed fields.
      await assert.rejects(
        client.audio.transcriptions.create({
          file: createReadStream(shortClip().wavPath),
          model: 'sphinx',
          chunking_strategy: { type: 'server_vad', threshold: 2 },
        }),
        (error: unknown) => error instanceof OpenAI.BadRequestError && (error.error as { param?: string }).param === 'chunking_strategy',
      );
      const after = (await ctx().app.inject({ method: 'GET', url: '/api/v1/audio/', headers: bearer(user.accessToken) })).json().items.length;
      assert.equal(after, before);
    });

    test('chunking_strategy: VAD finds the speech after 10 s of silence; times stay on the file\'s timeline', async () => {
      const padded = path.join((await temp()).dir, 'padded.wav');
      execFileSync('ffmpeg', ['-nostdin', '-loglevel', 'error', '-y', '-i', shortClip().wavPath, '-af', 'adelay=10000',
        '-ar', '16000', '-ac', '1', '-c:a', 'pcm_s16le', padded]);
      // auto, streamed
      const stream = await client.audio.transcriptions.create({ file: createReadStream(padded), model: 'sphinx', stream: true, chunking_strategy: 'auto' });
      let text = '';
      for await (const event of stream) if (event.type === 'transcript.text.done') text = event.text;
      assert.match(text, /young man/);
      const stored = await latestTranscription();
      assert.deepEqual(stored.vad, { threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 500 });
      assert.ok(stored.segments.length >= 1);
      assert.ok(stored.segments[0].start >= 9.5, `first segment at ${stored.segments[0].start} s`);
      // server_vad as the SDK sends an object: chunking_strategy[type]=server_vad, …
      const verbose = await client.audio.transcriptions.create({
        file: createReadStream(padded),
        model: 'sphinx',
        response_format: 'verbose_json',
        chunking_strategy: { type: 'server_vad', silence_duration_ms: 300, threshold: 0.6 },
      });
      assert.ok(verbose.segments!.length >= 1);
      assert.ok(verbose.segments![0]!.start >= 9.5, `first segment at ${verbose.segments![0]!.start} s`);
      assert.ok(verbose.duration > 12.9, String(verbose.duration));
      assert.deepEqual((await latestTranscription()).vad, { threshold: 0.6, prefix_padding_ms: 300, silence_duration_ms: 300 });
    });

    test('a client that disconnects cancels the transcription', async () => {
      const wav = await joined('all.wav', ['0870', '0880', '0890', '0920', '0930'], 0.5);
      const controller = new AbortController();
      const res = await fetch(`${baseURL}/audio/transcriptions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}` },
        body: audioForm(await readFile(wav), 'all.wav', { model: 'sphinx', stream: 'true' }),
        signal: controller.signal,
      });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
      controller.abort();
      const t = await waitUntil('the transcription to be cancelled', async () => {
        const latest = await latestTranscription();
        return latest.status === 'queued' || latest.status === 'processing' ? null : latest;
      });
      assert.equal(t.status, 'cancelled');
    });
  },
  {},
  { startQueue: true },
);
