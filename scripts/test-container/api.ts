/**
 * What the container test asks of a running Transcribo: readiness, an account, a LibriVox clip
 * transcribed by pocketsphinx, and a Prometheus scrape.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { librivoxClips, type Clip } from '../../test/helpers/audio.js';

const READY_TIMEOUT_MS = 180_000;
const TRANSCRIBE_WAIT_S = 240;

/** Polls readiness until 200; `alive` says whether the container is still there to wait for. */
export async function waitReady(base: string, alive: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${base}/api/v1/health/readiness`, { signal: AbortSignal.timeout(5_000) });
      if (res.status === 200) return;
      last = `${res.status} ${await res.text()}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (!(await alive())) throw new Error(`the container exited before it was ready (last readiness: ${last})`);
    await sleep(250);
  }
  throw new Error(`not ready after ${READY_TIMEOUT_MS / 1000} s (last readiness: ${last})`);
}

async function json<T>(res: Response, expected: number, what: string): Promise<T> {
  const text = await res.text();
  assert.equal(res.status, expected, `${what}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** The fields of the API's replies this test reads. */
interface TranscriptionReply {
  status: string;
  engine: string;
  text: string | null;
  job_id: string | null;
}

/** A new account; returns its bearer header. */
export async function register(base: string): Promise<Record<string, string>> {
  const res = await fetch(`${base}/api/v1/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: `container-${randomUUID()}@example.com`, password: 'a long container passphrase' }),
  });
  const body = await json<{ access_token: string }>(res, 201, 'register');
  return { authorization: `Bearer ${body.access_token}` };
}

export function clip(idSuffix: string): Clip {
  const found = librivoxClips().find((c) => c.id.endsWith(idSuffix));
  if (!found) throw new Error(`no LibriVox clip ending in ${idSuffix} (apt-get install pocketsphinx-testdata)`);
  return found;
}

/** Distinct words of the reference that the transcript contains, as a share (pocketsphinx: ~63% here). */
function wordsFound(reference: string, text: string): number {
  const said = new Set(text.toLowerCase().match(/[a-z']+/g) ?? []);
  const expected = [...new Set(reference.toLowerCase().split(/\s+/))];
  return expected.filter((word) => said.has(word)).length / expected.length;
}

export interface Transcribed {
  text: string;
  jobId: string;
  recordingId: string;
}

/** Uploads the clip and transcribes it with the sphinx engine, waiting for the result. */
export async function transcribeClip(base: string, auth: Record<string, string>, audio: Clip): Promise<Transcribed> {
  const form = new FormData();
  form.append('language', 'en');
  form.append('file', new Blob([await readFile(audio.wavPath)], { type: 'audio/wav' }), `${audio.id}.wav`);
  const upload = await fetch(`${base}/api/v1/audio/upload`, { method: 'POST', headers: auth, body: form });
  const { id } = await json<{ id: string }>(upload, 201, 'upload');

  const res = await fetch(`${base}/api/v1/audio/${id}/transcribe?wait=${TRANSCRIBE_WAIT_S}`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ engine: 'sphinx', language: 'en' }),
    signal: AbortSignal.timeout((TRANSCRIBE_WAIT_S + 30) * 1000),
  });
  const done = await json<TranscriptionReply>(res, 200, 'transcribe (200: finished within the wait)');
  assert.equal(done.status, 'completed', `transcription ${done.status}: ${JSON.stringify(done)}`);
  assert.equal(done.engine, 'sphinx');
  const text = done.text ?? '';
  const share = wordsFound(audio.reference, text);
  assert.ok(share >= 0.5, `only ${Math.round(share * 100)}% of "${audio.reference}" in "${text}"`);
  return { text, jobId: done.job_id ?? '', recordingId: id };
}

/** GET /audio/{id}/speech-timestamps: Silero VAD on onnxruntime-node inside the image finds the speech. */
export async function speechRegions(base: string, auth: Record<string, string>, recordingId: string): Promise<{ start: number; end: number }[]> {
  const res = await fetch(`${base}/api/v1/audio/${recordingId}/speech-timestamps`, { headers: auth });
  const body = await json<{ duration: number; regions: { start: number; end: number }[] }>(res, 200, 'speech-timestamps');
  assert.ok(body.regions.length > 0, `no speech found in a LibriVox clip: ${JSON.stringify(body)}`);
  return body.regions;
}

/** GET /metrics with the token: 200 and the HTTP duration histogram; without it: refused. */
export async function scrapeMetrics(base: string, token: string): Promise<string> {
  const refused = await fetch(`${base}/metrics`);
  assert.equal(refused.status, 401, `/metrics without the token: ${refused.status}`);
  const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  assert.equal(res.status, 200, `/metrics with METRICS_TOKEN: ${res.status} ${text.slice(0, 200)}`);
  assert.match(text, /^# TYPE \w*http_request_duration_seconds histogram$/m, 'an http_request_duration_seconds histogram');
  return text;
}
