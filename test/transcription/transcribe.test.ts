import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import type { App } from '../../src/app.js';
import { engineSet } from '../../src/transcription/engines/index.js';
import { SphinxEngine } from '../../src/transcription/engines/sphinx.js';
import { describeEachDatabase } from '../helpers/app.js';
import { librivoxClips, shortClip } from '../helpers/audio.js';
import { bearer, createTextEntry, registerUser, uploadClip, type TestUser } from '../helpers/factory.js';

async function pollJob(app: App, user: TestUser, jobId: string, until: (status: string) => boolean) {
  for (let i = 0; i < 600; i++) {
    const res = await app.inject({ method: 'GET', url: `/api/v1/jobs/${jobId}`, headers: bearer(user.accessToken) });
    assert.equal(res.statusCode, 200, res.body);
    if (until(res.json().status)) return res.json();
    await sleep(100);
  }
  throw new Error(`job ${jobId} never reached the expected status`);
}

describeEachDatabase(
  'transcription jobs',
  (ctx) => {
    test('?wait answers 200 with a completed sphinx transcript: segments, words, times, job record', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const id = await uploadClip(app, user);
      const res = await app.inject({
        method: 'POST',
        url: `/api/v1/audio/${id}/transcribe?wait=120`,
        headers: bearer(user.accessToken),
        payload: { engine: 'sphinx', word_timestamps: true },
      });
      assert.equal(res.statusCode, 200, res.body);
      const t = res.json();
      assert.equal(t.status, 'completed');
      assert.equal(t.engine, 'sphinx');
      assert.equal(t.language, 'en');
      assert.equal(t.progress, 100);
      assert.ok(t.segments.length >= 1);
      const reference = new Set(shortClip().reference.split(' '));
      const heard = String(t.text).toLowerCase().split(/\s+/);
      const hits = heard.filter((w) => reference.has(w)).length;
      assert.ok(hits / reference.size >= 0.5, `heard "${t.text}"`);
      for (const s of t.segments) {
        assert.ok(s.start >= 0 && s.end >= s.start && s.end <= 3.1, JSON.stringify(s));
        assert.ok(s.words.length > 0);
      }

      const job = await app.inject({ method: 'GET', url: `/api/v1/jobs/${t.job_id}`, headers: bearer(user.accessToken) });
      assert.equal(job.statusCode, 200);
      assert.equal(job.json().status, 'completed');
      assert.equal(job.json().progress, 100);
      assert.equal(job.json().attempts, 1);
      assert.equal(job.json().result.transcription_id, t.id);

      const latest = await app.inject({ method: 'GET', url: `/api/v1/audio/${id}/transcription`, headers: bearer(user.accessToken) });
      assert.equal(latest.json().id, t.id);
      const recording = await app.inject({ method: 'GET', url: `/api/v1/audio/${id}`, headers: bearer(user.accessToken) });
      assert.ok(Math.abs(recording.json().duration_seconds - 2.99) < 0.1);
    });

    test('without wait: 202 with the queued transcription and its job, which then completes', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const id = await uploadClip(app, user);
      const res = await app.inject({ method: 'POST', url: `/api/v1/audio/${id}/transcribe`, headers: bearer(user.accessToken) });
      assert.equal(res.statusCode, 202, res.body);
      const body = res.json();
      assert.equal(body.transcription.status, 'queued');
      assert.equal(body.transcription.engine, 'sphinx', 'STT_ENGINE is the default');
      assert.equal(body.transcription.job_id, body.job_id);
      const job = await pollJob(app, user, body.job_id, (s) => s === 'completed' || s === 'failed');
      assert.equal(job.status, 'completed', JSON.stringify(job));
    });

    test('formats: text, srt, vtt and verbose_json with the right content types', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const id = await uploadClip(app, user);
      const done = await app.inject({
        method: 'POST',
        url: `/api/v1/audio/${id}/transcribe?wait=120`,
        headers: bearer(user.accessToken),
        payload: { word_timestamps: true },
      });
      const t = done.json();
      const get = (format: string, url = `/api/v1/audio/${id}/transcription`) =>
        app.inject({ method: 'GET', url: `${url}?format=${format}`, headers: bearer(user.accessToken) });

      const text = await get('text');
      assert.equal(text.headers['content-type'], 'text/plain; charset=utf-8');
      assert.equal(text.body, `${t.text}\n`);

      const srt = await get('srt', `/api/v1/audio/transcription/${t.id}`);
      assert.equal(srt.headers['content-type'], 'application/x-subrip; charset=utf-8');
      assert.match(srt.body, /^1\n00:00:\d\d,\d{3} --> 00:00:\d\d,\d{3}\n\S/);

      const vtt = await get('vtt');
      assert.equal(vtt.headers['content-type'], 'text/vtt; charset=utf-8');
      assert.match(vtt.body, /^WEBVTT\n\n00:00:\d\d\.\d{3} --> /);

      const verbose = await get('verbose_json');
      assert.equal(verbose.statusCode, 200);
      const v = verbose.json();
      assert.equal(v.task, 'transcribe');
      assert.equal(v.language, 'english');
      assert.ok(v.duration > 2.9);
      assert.equal(v.segments.length, t.segments.length);
      assert.ok(v.words.length > 0);
      assert.deepEqual(Object.keys(v.words[0]).sort(), ['end', 'start', 'word']);

      const bad = await get('docx');
      assert.equal(bad.statusCode, 422);
    });

    test('refusals before anything is queued: sphinx in Spanish, openai unconfigured, text entries', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const id = await uploadClip(app, user);
      const spanish = await app.inject({
        method: 'POST',
        url: `/api/v1/audio/${id}/transcribe`,
        headers: bearer(user.accessToken),
        payload: { engine: 'sphinx', language: 'es' },
      });
      assert.equal(spanish.statusCode, 422);
      assert.equal(spanish.json().code, 'language_not_supported');

      const openai = await app.inject({
        method: 'POST',
        url: `/api/v1/audio/${id}/transcribe`,
        headers: bearer(user.accessToken),
        payload: { engine: 'openai' },
      });
      assert.equal(openai.statusCode, 422);
      assert.equal(openai.json().code, 'engine_not_configured');
      assert.match(openai.json().detail, /STT_API_KEY/);

      const model = await app.inject({
        method: 'POST',
        url: `/api/v1/audio/${id}/transcribe`,
        headers: bearer(user.accessToken),
        payload: { engine: 'whisper', model: 'large-v3' },
      });
      assert.equal(model.statusCode, 422);
      assert.equal(model.json().code, 'model_not_allowed');
      assert.match(model.json().detail, /WHISPER_ALLOWED_MODELS/);

      const entry = await createTextEntry(app, user);
      const text = await app.inject({
        method: 'POST',
        url: `/api/v1/audio/${entry.id}/transcribe`,
        headers: bearer(user.accessToken),
      });
      assert.equal(text.statusCode, 409);
      assert.equal(text.json().code, 'recording_has_no_audio');

      const srt = await app.inject({
        method: 'GET',
        url: `/api/v1/audio/${entry.id}/transcription?format=srt`,
        headers: bearer(user.accessToken),
      });
      assert.equal(srt.statusCode, 409);
      assert.equal(srt.json().code, 'timestamps_unavailable');
    });

    test('cancel: a running job stops and is cancelled; the transcription says so', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const longest = librivoxClips().find((c) => c.id.endsWith('0870'))!;
      const id = await uploadClip(app, user, longest.wavPath);
      const queued = await app.inject({ method: 'POST', url: `/api/v1/audio/${id}/transcribe`, headers: bearer(user.accessToken) });
      const jobId = queued.json().job_id;
      await pollJob(app, user, jobId, (s) => s === 'running');
      const cancel = await app.inject({ method: 'POST', url: `/api/v1/jobs/${jobId}/cancel`, headers: bearer(user.accessToken) });
      assert.equal(cancel.statusCode, 200, cancel.body);
      assert.equal(cancel.json().status, 'cancelled');
      const t = await app.inject({ method: 'GET', url: `/api/v1/audio/${id}/transcription`, headers: bearer(user.accessToken) });
      assert.equal(t.json().status, 'cancelled');
      assert.equal(t.json().segments.length, 0);
    });

    test('jobs of another user are 404', async () => {
      const { app } = ctx();
      const owner = await registerUser(app);
      const other = await registerUser(app);
      const id = await uploadClip(app, owner);
      const queued = await app.inject({ method: 'POST', url: `/api/v1/audio/${id}/transcribe`, headers: bearer(owner.accessToken) });
      const jobId = queued.json().job_id;
      for (const [method, url] of [
        ['GET', `/api/v1/jobs/${jobId}`],
        ['POST', `/api/v1/jobs/${jobId}/cancel`],
        ['GET', `/api/v1/audio/transcription/${queued.json().transcription.id}`],
      ] as const) {
        const res = await app.inject({ method, url, headers: bearer(other.accessToken) });
        assert.equal(res.statusCode, 404, `${method} ${url}`);
      }
      await pollJob(app, owner, jobId, (s) => s === 'completed');
    });
  },
  {},
  { startQueue: true },
);

describeEachDatabase(
  'transcription jobs whose engine fails',
  (ctx) => {
    test('a permanent engine failure fails the job at once with an actionable reason; the service keeps serving', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const id = await uploadClip(app, user);
      const res = await app.inject({
        method: 'POST',
        url: `/api/v1/audio/${id}/transcribe?wait=60`,
        headers: bearer(user.accessToken),
      });
      assert.equal(res.statusCode, 200, res.body);
      const t = res.json();
      assert.equal(t.status, 'failed');
      assert.equal(t.error_code, 'engine_unavailable');
      assert.match(t.error, /apt-get install pocketsphinx/);
      const job = await app.inject({ method: 'GET', url: `/api/v1/jobs/${t.job_id}`, headers: bearer(user.accessToken) });
      assert.equal(job.json().status, 'failed');
      assert.equal(job.json().attempts, 1, 'permanent failures are not retried');
      const health = await app.inject({ method: 'GET', url: '/api/v1/health/readiness' });
      assert.equal(health.statusCode, 200);
    });
  },
  {},
  {
    startQueue: true,
    overrides: { engines: engineSet('sphinx', { sphinx: new SphinxEngine({ binary: '/nonexistent/pocketsphinx', hmm: null }) }) },
  },
);
