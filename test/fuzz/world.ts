/** The data the fuzzer aims at: two users, user A's real resources of every kind, credentials of each sort. */
import assert from 'node:assert/strict';
import type { App } from '../../src/app.js';
import { encodeWav } from '../../src/audio/wav.js';
import { bearer, registerUser, type TestUser } from '../helpers/factory.js';

export type Pool = 'recording' | 'transcription' | 'session' | 'job' | 'webhook' | 'apiKey';

export type ActorName = 'owner' | 'owner-api-key' | 'other' | 'anonymous' | 'forged';

export interface World {
  /** A owns everything in `ids`; B owns little and targets A's ids. */
  owner: TestUser;
  other: TestUser;
  actors: Record<ActorName, Record<string, string>>;
  /** A's real ids by kind. Every job here is finished, so its event stream ends at once. */
  ids: Record<Pool, string[]>;
  /** Refresh tokens of a third user, for the routes that use them up (refresh, logout). */
  refreshTokens: string[];
  /** A short WAV that is accepted and transcribed. */
  audio: Buffer;
}

/** 0.3 s of a 440 Hz tone, 16 kHz mono. */
export function toneWav(): Buffer {
  const rate = 16_000;
  const samples = new Int16Array(Math.round(rate * 0.3));
  for (let i = 0; i < samples.length; i++) samples[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate));
  return encodeWav(samples, rate);
}

export function multipart(fields: [string, string][], file: { bytes: Buffer; filename: string; type: string } | null, boundary: string): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    parts.push(Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  }
  if (file) {
    parts.push(
      Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="${file.filename}"\r\ncontent-type: ${file.type}\r\n\r\n`),
      file.bytes,
      Buffer.from('\r\n'),
    );
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(parts);
}

async function call(app: App, user: TestUser, method: 'GET' | 'POST', url: string, payload?: object) {
  const res = await app.inject({ method, url, headers: bearer(user.accessToken), ...(payload ? { payload } : {}) });
  assert.ok(res.statusCode < 300, `${method} ${url}: ${res.statusCode} ${res.body}`);
  return res.json();
}

/** Waits for a job to finish by following its event stream, which ends with the final state. */
async function finished(app: App, user: TestUser, jobId: string): Promise<void> {
  const res = await app.inject({ method: 'GET', url: `/api/v1/jobs/${jobId}/events`, headers: bearer(user.accessToken) });
  assert.equal(res.statusCode, 200, res.body);
  assert.match(res.body, /event: (completed|failed|cancelled)\n/);
}

function actorsOf(owner: TestUser, other: TestUser, ownerKey: string | null): World['actors'] {
  return {
    owner: bearer(owner.accessToken),
    'owner-api-key': ownerKey ? bearer(ownerKey) : bearer(owner.accessToken),
    other: bearer(other.accessToken),
    anonymous: {},
    forged: bearer('trb_0000000000000000000000000000000000000000'),
  };
}

/** Two users and nothing else (the first account is an admin): for operations that act on no data. */
export async function usersOnly(app: App): Promise<World> {
  const owner = await registerUser(app, 'fuzz-admin');
  const other = await registerUser(app, 'fuzz-user');
  const ids = { recording: [], transcription: [], session: [], job: [], webhook: [], apiKey: [] };
  return { owner, other, actors: actorsOf(owner, other, null), ids, refreshTokens: [other.refreshToken], audio: toneWav() };
}

export async function buildWorld(app: App): Promise<World> {
  const owner = await registerUser(app, 'fuzz-owner');
  const other = await registerUser(app, 'fuzz-other');
  const spender = await registerUser(app, 'fuzz-refresh');
  const refreshTokens = [spender.refreshToken];
  for (let i = 0; i < 2; i++) {
    const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: spender.email, password: spender.password } });
    refreshTokens.push(login.json<{ refresh_token: string }>().refresh_token);
  }
  const key = await call(app, owner, 'POST', '/api/v1/auth/api-keys', { name: 'fuzz' });

  const texts = [
    await call(app, owner, 'POST', '/api/v1/audio/upload', { title: 'Reunión', original_text: 'Hola a todos. El presupuesto sube.', language: 'es' }),
    await call(app, owner, 'POST', '/api/v1/audio/upload', { title: 'Standup', original_text: 'Good morning. Lunch is at noon.' }),
  ];
  await call(app, other, 'POST', '/api/v1/audio/upload', { title: 'B’s own', original_text: 'Something else entirely.' });

  const audio = toneWav();
  const boundary = 'fuzz-seed-boundary';
  const uploaded = await app.inject({
    method: 'POST',
    url: '/api/v1/audio/upload',
    headers: { ...bearer(owner.accessToken), 'content-type': `multipart/form-data; boundary=${boundary}` },
    payload: multipart([['title', 'Tone']], { bytes: audio, filename: 'tone.wav', type: 'audio/wav' }, boundary),
  });
  assert.equal(uploaded.statusCode, 201, uploaded.body);
  const recording = uploaded.json<{ id: string }>();
  const transcribed = await call(app, owner, 'POST', `/api/v1/audio/${recording.id}/transcribe`, {});
  await finished(app, owner, transcribed.job_id);
  const again = await call(app, owner, 'POST', `/api/v1/audio/${recording.id}/transcribe`, { word_timestamps: true });
  await call(app, owner, 'POST', `/api/v1/jobs/${again.job_id}/cancel`);
  await finished(app, owner, again.job_id);

  const session = await call(app, owner, 'POST', '/api/v1/chat/sessions', { title: 'Questions', transcription_id: texts[0].transcription.id });
  await call(app, owner, 'POST', `/api/v1/chat/sessions/${session.id}/messages`, { role: 'user', content: 'What rises?' });
  const asked = await call(app, owner, 'POST', '/api/v1/chat/completion/async', { message: 'Who sends the report?', session_id: session.id });
  await finished(app, owner, asked.job_id);
  const webhook = await call(app, owner, 'POST', '/api/v1/webhooks', { url: 'https://203.0.113.10/hook', events: ['transcription.completed'] });

  return {
    owner,
    other,
    actors: actorsOf(owner, other, key.key),
    ids: {
      recording: [...texts.map((t: { id: string }) => t.id), recording.id],
      transcription: [...texts.map((t: { transcription: { id: string } }) => t.transcription.id), transcribed.transcription.id],
      session: [session.id],
      job: [transcribed.job_id, again.job_id, asked.job_id],
      webhook: [webhook.id],
      apiKey: [key.id],
    },
    refreshTokens,
    audio,
  };
}
