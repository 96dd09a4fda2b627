import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { App } from '../../src/app.js';
import { audioForm, shortClip } from './audio.js';

export interface TestUser {
  userId: string;
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
}

export function uniqueEmail(label = 'user'): string {
  return `${label}-${randomBytes(5).toString('hex')}@example.com`;
}

export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

export async function registerUser(app: App, label = 'user'): Promise<TestUser> {
  const email = uniqueEmail(label);
  const password = 'correct horse battery';
  const res = await app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { email, password } });
  assert.equal(res.statusCode, 201, res.body);
  const body = res.json<{ access_token: string; refresh_token: string; user: { id: string } }>();
  return { userId: body.user.id, email, password, accessToken: body.access_token, refreshToken: body.refresh_token };
}

/**
 * POSTs `payload` (an upload form, or a text entry's fields) to the upload route as `user`, with
 * `contentType` where given: the response, whatever its status.
 */
export function postUpload(app: App, user: TestUser, payload: FormData | Record<string, string> | string, contentType?: string) {
  return app.inject({
    method: 'POST',
    url: '/api/v1/audio/upload',
    headers: { ...bearer(user.accessToken), ...(contentType && { 'content-type': contentType }) },
    payload,
  });
}

export interface TextEntry {
  id: string;
  title: string;
  transcription: { id: string; segments: { id: string; text: string }[] };
}

export async function createTextEntry(
  app: App,
  user: TestUser,
  body: Record<string, string> = {},
): Promise<TextEntry> {
  const res = await postUpload(app, user, {
    title: 'Team meeting',
    original_text: 'Hola a todos. Empezamos la reunión. ¿Alguna pregunta?',
    language: 'es',
    ...body,
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json<TextEntry>();
}

export async function createSession(
  app: App,
  user: TestUser,
  body: Record<string, string> = {},
): Promise<{ id: string }> {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/chat/sessions',
    headers: bearer(user.accessToken),
    payload: { title: 'Questions', ...body },
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json<{ id: string }>();
}

/** Uploads a WAV (default: the short LibriVox clip) as an English recording; returns its id. */
export async function uploadClip(app: App, user: TestUser, wavPath = shortClip().wavPath): Promise<string> {
  const res = await postUpload(app, user, audioForm(await readFile(wavPath), 'clip.wav', { language: 'en' }));
  assert.equal(res.statusCode, 201, res.body);
  return res.json().id as string;
}
