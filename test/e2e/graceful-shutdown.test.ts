/**
 * Graceful shutdown on the embedded default (the built server, its own PostgreSQL, the inline
 * queue), with real sphinx transcriptions: SIGTERM hands a running job back without spending an
 * attempt, open event streams end instead of holding the process, and deleting a recording stops
 * the engine transcribing it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { stallingLlm, type FakeServer } from '../helpers/fake-llm.js';
import { isAlive } from '../helpers/processes.js';
import { readEventStream, startServer, stopServer, tempDir, type RunningServer } from '../helpers/server-process.js';
import { ApiClient, assertCleanShutdown, assertEndedByShutdown, assertStopsCleanly, longRecording, terminate } from './shutdown-support.js';

const TIMEOUT = { timeout: 420_000 };

describe('graceful shutdown on the embedded default', () => {
  const dataDir = tempDir('shutdown');
  const env = {
    STT_ENGINE: 'sphinx',
    SECRET_KEY: 'shutdown-test-secret-that-is-long-enough',
    // 'job interrupted; it will resume' is logged at info.
    LOG_LEVEL: 'info',
    // Running jobs get half of it to finish: 2 s, far less than sphinx needs for the long recording.
    SHUTDOWN_TIMEOUT_MS: '4000',
    RATE_LIMIT_MAX: '1000000',
  };
  let llm: FakeServer;
  let wav = '';
  let server: RunningServer | undefined;
  let client: ApiClient | undefined;
  let interrupted: { recordingId: string; jobId: string } | undefined;

  before(async () => {
    wav = longRecording();
    llm = await stallingLlm();
  });

  after(async () => {
    if (server && server.proc.exitCode === null && server.proc.signalCode === null) await stopServer(server);
    await llm?.close();
  });

  test('deleting a recording mid-transcription stops its engine and cancels the job', TIMEOUT, async () => {
    server = await startServer(dataDir, env);
    client = await ApiClient.register(server, 'shutdown@example.com');
    const transcribing = await client.startTranscribing(wav, server);

    await client.deleteMidTranscription(transcribing);
    assert.equal((await client.job(transcribing.jobId)).status, 'cancelled');
  });

  test('SIGTERM mid-transcription, its event stream open: exit 0, the job handed back, the stream ended', TIMEOUT, async () => {
    assert.ok(server && client, 'the server did not start');
    const running = server;
    const { recordingId, jobId, engines } = await client.startTranscribing(wav, running);
    const stream = await readEventStream(`${running.base}/api/v1/jobs/${jobId}/events`, { headers: client.auth });
    await stream.next('progress');

    await terminate(running);
    await stream.ended;
    assertEndedByShutdown(stream);
    assert.ok(!engines.some(isAlive), 'the engine stopped with the server');
    assert.match(running.output(), /job interrupted; it will resume/, 'the job was interrupted, not finished, in the grace period');
    assertCleanShutdown(running);
    interrupted = { recordingId, jobId };
  });

  test('open event streams (a job’s, a streamed answer) do not hold shutdown open', TIMEOUT, async () => {
    assert.ok(client && interrupted, 'the earlier steps did not complete');
    // No workers: the handed-back job stays queued, so its stream stays open. The shutdown budget
    // is far longer than waitForExit's: a stream holding the process fails the test.
    server = await startServer(dataDir, {
      ...env,
      RUN_WORKERS: 'false',
      SHUTDOWN_TIMEOUT_MS: '120000',
      OPENAI_API_KEY: 'sk-test',
      OPENAI_BASE_URL: `${llm.origin}/v1`,
    });
    const running = server;
    client.server = running;
    const jobEvents = await readEventStream(`${running.base}/api/v1/jobs/${interrupted.jobId}/events`, { headers: client.auth });
    const answer = await readEventStream(`${running.base}/api/v1/chat/completion`, {
      method: 'POST',
      headers: { ...client.auth, 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'What was said?', stream: true }),
    });
    await jobEvents.next('progress');
    await answer.next('delta');
    assert.ok(!jobEvents.isEnded() && !answer.isEnded(), 'both streams are open at SIGTERM');

    await terminate(running);
    await Promise.all([jobEvents.ended, answer.ended]);
    for (const stream of [jobEvents, answer]) assertEndedByShutdown(stream);
    await llm.requests.at(-1)?.closedEarly;
    assertCleanShutdown(running);
  });

  test('after a restart the handed-back job completes once, its interrupted attempt not counted', TIMEOUT, async () => {
    assert.ok(client && interrupted, 'the earlier steps did not complete');
    server = await startServer(dataDir, env);
    const running = server;
    client.server = running;
    const job = await client.finished(interrupted.jobId);
    assert.equal(job.status, 'completed', JSON.stringify(job));
    assert.equal(job.attempts, 1, 'the attempt SIGTERM interrupted is not counted');
    await client.assertTranscribedOnce(interrupted.recordingId, job);

    await assertStopsCleanly(running);
  });
});
