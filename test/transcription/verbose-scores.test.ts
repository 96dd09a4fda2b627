/**
 * verbose_json carries each segment's decoding scores as the engine reported them, end to end: from
 * an OpenAI-compatible speech server through the job, the database and both ways out (POST
 * /v1/audio/transcriptions and GET …?format=verbose_json), and null where the engine has none.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { shortClip } from '../helpers/audio.js';
import { bearer, registerUser, type TestUser } from '../helpers/factory.js';

interface Scores {
  avg_logprob: number | null;
  compression_ratio: number | null;
  no_speech_prob: number | null;
  temperature: number | null;
}

interface VerboseSegment extends Scores {
  id: number;
  start: number;
  end: number;
  text: string;
}

const UNKNOWN: Scores = { avg_logprob: null, compression_ratio: null, no_speech_prob: null, temperature: null };

/** What the fake provider reports; the last segment, like some servers' output, has no scores. */
const PROVIDER_SEGMENTS = [
  { start: 0, end: 1.2, text: ' He was not', avg_logprob: -0.2, compression_ratio: 1.1, no_speech_prob: 0.01, temperature: 0 },
  { start: 1.2, end: 2.2, text: ' an ill disposed', avg_logprob: -0.45, compression_ratio: 1.6, no_speech_prob: 0.2, temperature: 0.4 },
  { start: 2.2, end: 2.9, text: ' young man.' },
];
const EXPECTED_SCORES: Scores[] = [
  { avg_logprob: -0.2, compression_ratio: 1.1, no_speech_prob: 0.01, temperature: 0 },
  { avg_logprob: -0.45, compression_ratio: 1.6, no_speech_prob: 0.2, temperature: 0.4 },
  UNKNOWN,
];

function scoresOf(segments: VerboseSegment[]): Scores[] {
  return segments.map(({ avg_logprob, compression_ratio, no_speech_prob, temperature }) => ({
    avg_logprob,
    compression_ratio,
    no_speech_prob,
    temperature,
  }));
}

/** An OpenAI-compatible speech server on 127.0.0.1 that answers every upload with PROVIDER_SEGMENTS. */
async function fakeSpeechServer(): Promise<{ server: Server; baseUrl: string; uploads: () => number }> {
  let uploads = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/audio/transcriptions') uploads += 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          task: 'transcribe',
          language: 'english',
          duration: 2.9,
          text: PROVIDER_SEGMENTS.map((s) => s.text).join(''),
          segments: PROVIDER_SEGMENTS.map((s, id) => ({ id, seek: 0, tokens: [], ...s })),
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, baseUrl: `http://127.0.0.1:${port}/v1`, uploads: () => uploads };
}

describe('verbose_json segment scores [postgres]', () => {
  let speech: Awaited<ReturnType<typeof fakeSpeechServer>>;
  let ctx: TestApp;
  let origin: string;
  let user: TestUser;

  before(async () => {
    speech = await fakeSpeechServer();
    ctx = await startTestApp('postgres', { STT_BASE_URL: speech.baseUrl }, { startQueue: true });
    await ctx.app.listen({ host: '127.0.0.1', port: 0 });
    origin = `http://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`;
    user = await registerUser(ctx.app);
  });

  after(async () => {
    await ctx?.close();
    speech?.server.closeAllConnections();
    await new Promise<void>((resolve) => (speech ? speech.server.close(() => resolve()) : resolve()));
  });

  /** POST /v1/audio/transcriptions as an OpenAI client sends it; returns the JSON answer. */
  async function transcribe(model: string) {
    const form = new FormData();
    form.append('file', new Blob([readFileSync(shortClip().wavPath)], { type: 'audio/wav' }), 'clip.wav');
    form.append('model', model);
    form.append('response_format', 'verbose_json');
    form.append('language', 'en');
    const response = await fetch(`${origin}/v1/audio/transcriptions`, {
      method: 'POST',
      headers: bearer(user.accessToken),
      body: form,
    });
    const body = (await response.json()) as { text: string; segments: VerboseSegment[] };
    assert.equal(response.status, 200, JSON.stringify(body));
    return body;
  }

  /** The user's newest recording's transcription, through our own export. */
  async function exported(format: 'json' | 'verbose_json') {
    const list = await ctx.app.inject({ method: 'GET', url: '/api/v1/audio/', headers: bearer(user.accessToken) });
    const recordingId = list.json<{ items: { id: string }[] }>().items[0]!.id;
    const response = await ctx.app.inject({
      method: 'GET',
      url: `/api/v1/audio/${recordingId}/transcription?format=${format}`,
      headers: bearer(user.accessToken),
    });
    assert.equal(response.statusCode, 200, response.body);
    return response.json<{ segments: VerboseSegment[] }>();
  }

  test('an OpenAI-compatible engine: the provider’s scores come out exactly, ids count from 0', async () => {
    const answer = await transcribe('openai/whisper-1');
    assert.equal(speech.uploads(), 1);
    assert.deepEqual(answer.segments.map((s) => s.id), [0, 1, 2]);
    assert.deepEqual(scoresOf(answer.segments), EXPECTED_SCORES);

    const verbose = await exported('verbose_json');
    assert.deepEqual(verbose.segments.map((s) => s.id), [0, 1, 2]);
    assert.deepEqual(scoresOf(verbose.segments), EXPECTED_SCORES);

    // Our own JSON shows the stored scores too (its ids are the segments' uuids).
    assert.deepEqual(scoresOf((await exported('json')).segments), EXPECTED_SCORES);
  });

  test('sphinx reports no scores: null, not 0', async () => {
    const answer = await transcribe('sphinx');
    assert.ok(answer.segments.length >= 1, JSON.stringify(answer));
    assert.deepEqual(answer.segments.map((s) => s.id), answer.segments.map((_, i) => i));
    for (const scores of scoresOf(answer.segments)) assert.deepEqual(scores, UNKNOWN);

    const verbose = await exported('verbose_json');
    assert.deepEqual(verbose.segments.map((s) => s.id), verbose.segments.map((_, i) => i));
    for (const scores of scoresOf(verbose.segments)) assert.deepEqual(scores, UNKNOWN);
  });
});
