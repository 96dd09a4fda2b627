/** What the graceful-shutdown suites share: a long recording, API calls, and stopping processes. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { audioForm, librivoxClips } from '../helpers/audio.js';
import { descendantsRunning, isAlive } from '../helpers/processes.js';
import {
  call,
  stopServer,
  tempDir,
  waitForExit,
  waitUntil,
  type Child,
  type EventStreamReader,
  type RunningServer,
} from '../helpers/server-process.js';

export const SPHINX = 'pocketsphinx_continuous';

/**
 * The five LibriVox clips, twice over: ~50 s of speech, which sphinx takes far longer than the
 * 2 s shutdown grace used here to transcribe, even on a fast machine.
 */
export function longRecording(): string {
  const wav = path.join(tempDir('audio'), 'long.wav');
  const clips = librivoxClips().map((c) => c.wavPath);
  execFileSync('sox', [...clips, ...clips, wav]);
  return wav;
}

export interface JobView {
  status: string;
  attempts: number;
  result: { transcription_id: string } | null;
}

/** A transcription under way: its recording, its job, and the engine processes running it. */
export interface Transcribing {
  recordingId: string;
  jobId: string;
  engines: number[];
}

/** One user's calls to a running API. */
export class ApiClient {
  constructor(
    public server: RunningServer,
    readonly token: string,
  ) {}

  static async register(server: RunningServer, email: string): Promise<ApiClient> {
    const reg = await call(server, 'POST', '/api/v1/auth/register', { body: { email, password: 'a long enough password' } });
    assert.equal(reg.status, 201, JSON.stringify(reg.body));
    return new ApiClient(server, (reg.body as { access_token: string }).access_token);
  }

  get auth(): Record<string, string> {
    return { authorization: `Bearer ${this.token}` };
  }

  async upload(wav: string): Promise<string> {
    const res = await fetch(`${this.server.base}/api/v1/audio/upload`, {
      method: 'POST',
      headers: this.auth,
      body: audioForm(await readFile(wav), path.basename(wav), { language: 'en' }),
    });
    assert.equal(res.status, 201, await res.clone().text());
    return ((await res.json()) as { id: string }).id;
  }

  async transcribe(recordingId: string): Promise<string> {
    const res = await call(this.server, 'POST', `/api/v1/audio/${recordingId}/transcribe`, { token: this.token, body: {} });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return (res.body as { job_id: string }).job_id;
  }

  /** Uploads `wav` and transcribes it: resolves once `runner`, the process that runs jobs, runs its engine. */
  async startTranscribing(wav: string, runner: Child): Promise<Transcribing> {
    const recordingId = await this.upload(wav);
    const jobId = await this.transcribe(recordingId);
    return { recordingId, jobId, engines: await enginesOf(runner) };
  }

  /** Deletes the recording being transcribed: resolves once its engines have stopped. */
  async deleteMidTranscription({ recordingId, engines }: Transcribing): Promise<void> {
    await this.deleteRecording(recordingId);
    await waitUntil(`the engine to stop after the delete (pids ${engines.join(', ')})`, () => !engines.some(isAlive), 15_000);
  }

  async deleteRecording(recordingId: string): Promise<void> {
    const res = await call(this.server, 'DELETE', `/api/v1/audio/${recordingId}`, { token: this.token });
    assert.equal(res.status, 204, JSON.stringify(res.body));
  }

  async job(id: string): Promise<JobView> {
    const res = await call(this.server, 'GET', `/api/v1/jobs/${id}`, { token: this.token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body as JobView;
  }

  /** Waits for the job to leave queued and running. */
  finished(id: string, ms = 300_000): Promise<JobView> {
    return waitUntil(
      `job ${id} to finish`,
      async () => {
        const job = await this.job(id);
        return job.status === 'queued' || job.status === 'running' ? null : job;
      },
      ms,
    );
  }

  /** The recording's latest transcription: completed, with one set of segments numbered from 0. */
  async assertTranscribedOnce(recordingId: string, job: JobView): Promise<void> {
    const t = await call(this.server, 'GET', `/api/v1/audio/${recordingId}/transcription`, { token: this.token });
    const transcription = t.body as { id: string; status: string; segments: { index: number }[] };
    assert.equal(transcription.id, job.result?.transcription_id);
    assert.equal(transcription.status, 'completed');
    assert.ok(transcription.segments.length > 0);
    assert.deepEqual(
      transcription.segments.map((s) => s.index),
      transcription.segments.map((_, i) => i),
      'one set of segments',
    );
  }
}

/** The engine processes running under `process`, once there are any. */
export function enginesOf(process: Child): Promise<number[]> {
  return waitUntil(`${SPHINX} to run under pid ${process.proc.pid}\n${process.output().slice(-3_000)}`, () => {
    const pids = descendantsRunning(process.proc.pid!, SPHINX);
    return pids.length > 0 ? pids : null;
  });
}

/** A graceful stop: nothing used the database after it closed, and nothing ran out the clock. */
export function assertCleanShutdown(process: Child): void {
  assert.doesNotMatch(process.output(), /Cannot use a pool after calling end/, 'a query ran after the database closed');
  assert.doesNotMatch(process.output(), /did not finish in time|did not stop in time/);
}

/** SIGTERM, as a process manager stops it: the process exits 0. */
export async function terminate(process: Child): Promise<void> {
  process.proc.kill('SIGTERM');
  const exit = await waitForExit(process);
  assert.deepEqual(exit, { code: 0, signal: null }, process.output());
}

/** A stop at the end of a suite: exit 0 and a clean shutdown. */
export async function assertStopsCleanly(process: Child): Promise<void> {
  const exit = await stopServer(process);
  assert.deepEqual(exit, { code: 0, signal: null }, process.output());
  assertCleanShutdown(process);
}

/** An event stream the shutdown ended: its last event says the service is unavailable. */
export function assertEndedByShutdown(stream: EventStreamReader): void {
  assert.equal(stream.events.at(-1)?.event, 'error', JSON.stringify(stream.events));
  assert.equal((stream.events.at(-1)?.data as { code: string }).code, 'service_unavailable');
}
