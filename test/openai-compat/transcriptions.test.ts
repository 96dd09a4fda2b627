import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { before, test } from 'node:test';
import OpenAI, { toFile } from 'openai';
import { describeEachDatabase } from '../helpers/app.js';
import { shortClip } from '../helpers/audio.js';
import { bearer, registerUser, type TestUser } from '../helpers/factory.js';

describeEachDatabase(
  'OpenAI-compatible endpoint, called with the official openai SDK',
  (ctx) => {
    let client: OpenAI;
    let user: TestUser;
    let apiKey: string;

    before(async () => {
      const { app } = ctx();
      await app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = app.server.address() as AddressInfo;
      user = await registerUser(app);
      const key = await app.inject({
        method: 'POST',
        url: '/api/v1/auth/api-keys',
        headers: bearer(user.accessToken),
        payload: { name: 'sdk' },
      });
      apiKey = key.json().key;
      client = new OpenAI({ apiKey, baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0, timeout: 120_000 });
    });

    test('json (default): the transcript text; the request is kept as a recording with source "api"', async () => {
      const result = await client.audio.transcriptions.create({
        file: createReadStream(shortClip().wavPath),
        model: 'whisper-1',
        language: 'en',
      });
      assert.ok(result.text.length > 10, result.text);
      assert.match(result.text.toLowerCase(), /young man/);
      const list = await ctx().app.inject({ method: 'GET', url: '/api/v1/audio/', headers: bearer(user.accessToken) });
      const recording = list.json().items[0];
      assert.equal(recording.source, 'api');
      assert.equal(recording.title, 'sense_and_sensibility_01_austen_64kb-0880.wav');
    });

    test('verbose_json with word and segment granularities', async () => {
      const result = await client.audio.transcriptions.create({
        file: await toFile(createReadStream(shortClip().wavPath), 'clip.wav'),
        model: 'sphinx',
        response_format: 'verbose_json',
        timestamp_granularities: ['word', 'segment'],
      });
      assert.equal(result.language, 'english');
      assert.ok(result.duration > 2.9 && result.duration < 3.1, String(result.duration));
      assert.ok((result.segments ?? []).length >= 1);
      const words = result.words ?? [];
      assert.ok(words.length >= 4);
      for (let i = 1; i < words.length; i++) assert.ok(words[i]!.start >= words[i - 1]!.start);
    });

    test('text, srt and vtt come back as strings', async () => {
      const file = () => createReadStream(shortClip().wavPath);
      const text = await client.audio.transcriptions.create({ file: file(), model: 'whisper-1', response_format: 'text' });
      assert.equal(typeof text, 'string');
      assert.match(text, /\S/);
      const srt = await client.audio.transcriptions.create({ file: file(), model: 'whisper-1', response_format: 'srt' });
      assert.match(srt, /^1\n00:00:0\d,\d{3} --> /);
      const vtt = await client.audio.transcriptions.create({ file: file(), model: 'whisper-1', response_format: 'vtt' });
      assert.match(vtt, /^WEBVTT/);
    });

    test('errors have OpenAI’s shape and raise the SDK’s own exceptions', async () => {
      await assert.rejects(
        client.audio.transcriptions.create({ file: createReadStream(shortClip().wavPath), model: 'tts-1' }),
        (error: unknown) => {
          assert.ok(error instanceof OpenAI.BadRequestError, String(error));
          assert.equal(error.status, 400);
          assert.equal((error.error as { param?: string }).param, 'model');
          return true;
        },
      );
      await assert.rejects(
        client.audio.transcriptions.create({
          file: await toFile(Buffer.from('definitely not audio, just text'), 'speech.wav'),
          model: 'whisper-1',
        }),
        (error: unknown) => error instanceof OpenAI.BadRequestError && /not audio/.test(error.message),
      );
      await assert.rejects(
        client.audio.transcriptions.create({
          file: createReadStream(shortClip().wavPath),
          model: 'sphinx',
          language: 'fr',
        }),
        (error: unknown) =>
          error instanceof OpenAI.BadRequestError && (error.error as { code?: string }).code === 'language_not_supported',
      );
      const stranger = new OpenAI({ apiKey: 'trb_not-a-real-key', baseURL: client.baseURL, maxRetries: 0 });
      await assert.rejects(stranger.models.list(), (error: unknown) => {
        assert.ok(error instanceof OpenAI.AuthenticationError, String(error));
        assert.equal((error.error as { type?: string }).type, 'authentication_error');
        return true;
      });
    });

    test('models lists what the model field accepts', async () => {
      const ids = [];
      for await (const model of client.models.list()) ids.push(model.id);
      assert.ok(ids.includes('whisper-1'));
      assert.ok(ids.includes('sphinx'));
    });

    test('a JWT works as the key too', async () => {
      const jwtClient = new OpenAI({ apiKey: user.accessToken, baseURL: client.baseURL, maxRetries: 0 });
      const result = await jwtClient.audio.transcriptions.create({ file: createReadStream(shortClip().wavPath), model: 'sphinx' });
      assert.match(result.text, /\S/);
    });
  },
  {},
  { startQueue: true },
);
