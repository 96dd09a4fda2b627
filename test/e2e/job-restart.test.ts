/**
 * A server killed in the middle of a transcription (SIGKILL: no chance to clean up) and started
 * again on the same DATA_DIR: the job resumes and its result is written exactly once.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';
import { audioForm, librivoxClips } from '../helpers/audio.js';
import {
  SERVER_FROM_SOURCE,
  call,
  startServer,
  stopServer,
  tempDir,
  waitForExit,
  type RunningServer,
} from '../helpers/server-process.js';

let server: RunningServer | undefined;
after(async () => {
  if (server && server.proc.exitCode === null) await stopServer(server);
});

async function job(s: RunningServer, token: string, id: string) {
  const res = await call(s, 'GET', `/api/v1/jobs/${id}`, { token });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body as { status: string; attempts: number; progress: number; result: { transcription_id: string } | null };
}

test('a job interrupted by SIGKILL resumes after restart and completes exactly once', async () => {
  const dataDir = tempDir('restart');
  // All five LibriVox clips joined: ~33 s of speech, long enough to be killed mid-way.
  const joined = path.join(tempDir('audio'), 'joined.wav');
  execFileSync('sox', [...librivoxClips().map((c) => c.wavPath), joined]);
  const env = { STT_ENGINE: 'sphinx', SECRET_KEY: 'restart-test-secret-that-is-long-enough' };

  server = await startServer(dataDir, env, SERVER_FROM_SOURCE);
  const reg = await call(server, 'POST', '/api/v1/auth/register', {
    body: { email: 'restart@example.com', password: 'a long enough password' },
  });
  assert.equal(reg.status, 201);
  const token = (reg.body as { access_token: string }).access_token;
  const upload = await fetch(`${server.base}/api/v1/audio/upload`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: audioForm(await readFile(joined), 'joined.wav', { language: 'en' }),
  });
  assert.equal(upload.status, 201, await upload.clone().text());
  const recordingId = ((await upload.json()) as { id: string }).id;
  const queued = await call(server, 'POST', `/api/v1/audio/${recordingId}/transcribe`, { token, body: {} });
  assert.equal(queued.status, 202);
  const jobId = (queued.body as { job_id: string }).job_id;

  let state = await job(server, token, jobId);
  for (let i = 0; i < 200 && state.status === 'queued'; i++) {
    await sleep(50);
    state = await job(server, token, jobId);
  }
  assert.equal(state.status, 'running', 'the job must be running when the server dies');
  server.proc.kill('SIGKILL');
  await waitForExit(server);

  server = await startServer(dataDir, env, SERVER_FROM_SOURCE);
  for (let i = 0; i < 600; i++) {
    state = await job(server, token, jobId);
    if (state.status !== 'queued' && state.status !== 'running') break;
    await sleep(100);
  }
  assert.equal(state.status, 'completed', JSON.stringify(state));
  assert.equal(state.attempts, 2, 'the killed attempt counts, the resumed one completes');

  const t = await call(server, 'GET', `/api/v1/audio/${recordingId}/transcription`, { token });
  const transcription = t.body as { id: string; status: string; segments: { id: string; index: number; start: number }[] };
  assert.equal(transcription.status, 'completed');
  assert.equal(transcription.id, state.result?.transcription_id);
  assert.ok(transcription.segments.length >= 3);
  assert.deepEqual(
    transcription.segments.map((s) => s.index),
    transcription.segments.map((_, i) => i),
    'one set of segments, no duplicates from the killed attempt',
  );
  assert.equal(new Set(transcription.segments.map((s) => s.id)).size, transcription.segments.length);
  const starts = transcription.segments.map((s) => s.start);
  assert.deepEqual([...starts].sort((a, b) => a - b), starts);

  const exit = await stopServer(server);
  assert.equal(exit.code, 0);
});
