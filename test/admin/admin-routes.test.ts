/**
 * /api/v1/admin: accounts with their roles and usage, role changes, and the server's engine, LLM
 * and queue status. Admins only; everyone else gets 401 or 403.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { eq } from 'drizzle-orm';
import { withoutRemoteStylesheets } from '../../src/admin/queue-dashboard.js';
import { llmUsage, transcriptions } from '../../src/db/schema.js';
import { asSystem } from '../../src/db/scope.js';
import { describeEachDatabase } from '../helpers/app.js';
import { bearer, createTextEntry, registerUser, type TestUser } from '../helpers/factory.js';
import { tempDir } from '../helpers/server-process.js';

interface AdminUser {
  id: string;
  email: string | null;
  role: string;
  usage: { llm_input_tokens: number; llm_output_tokens: number; audio_minutes: number };
}

const modelsDir = tempDir('admin-models');
const binDir = tempDir('admin-bin');
await mkdir(modelsDir, { recursive: true });
await mkdir(binDir, { recursive: true });
await writeFile(path.join(modelsDir, 'ggml-tiny.bin'), 'not really a model');
await writeFile(path.join(modelsDir, 'mine.bin'), 'a model of my own');
const fakeSphinx = path.join(binDir, 'pocketsphinx_fake');
await writeFile(fakeSphinx, '#!/bin/sh\nexit 0\n');
await chmod(fakeSphinx, 0o755);

describeEachDatabase(
  'admin routes',
  (ctx) => {
    let admin: TestUser;
    let user: TestUser;

    const get = (url: string, who: TestUser) => ctx().app.inject({ url, headers: bearer(who.accessToken) });
    const patch = (id: string, role: unknown, who: TestUser) =>
      ctx().app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${id}`, headers: bearer(who.accessToken), payload: { role } });
    const allUsers = async (who: TestUser, query = ''): Promise<AdminUser[]> => {
      const res = await get(`/api/v1/admin/users?limit=100${query}`, who);
      assert.equal(res.statusCode, 200, res.body);
      return res.json<{ items: AdminUser[] }>().items;
    };

    test('the first account is admin; users get 403 on every admin route, strangers 401', async () => {
      admin = await registerUser(ctx().app, 'admin');
      user = await registerUser(ctx().app, 'user');
      for (const url of ['/api/v1/admin/users', '/api/v1/admin/status']) {
        const refused = await get(url, user);
        assert.equal(refused.statusCode, 403, refused.body);
        assert.equal(refused.json().code, 'forbidden');
        assert.equal((await ctx().app.inject({ url })).statusCode, 401);
      }
      // A non-admin learns nothing about the body: 403 before validation.
      const patched = await patch(admin.userId, 'nonsense', user);
      assert.equal(patched.statusCode, 403, patched.body);
    });

    test('users are listed with their roles and usage, all time or since a date, and paged', async () => {
      const entry = await createTextEntry(ctx().app, user);
      await asSystem(ctx().database.db, 'test data', async (tx) => {
        await tx.update(transcriptions).set({ durationSeconds: 90 }).where(eq(transcriptions.id, entry.transcription.id));
        const row = { userId: user.userId, purpose: 'chat', provider: 'openai', model: 'gpt-test' };
        await tx.insert(llmUsage).values([
          { id: randomUUID(), ...row, inputTokens: 100, outputTokens: 20 },
          { id: randomUUID(), ...row, inputTokens: 5, outputTokens: 1, createdAt: new Date('2020-01-01T00:00:00Z') },
          // A reservation not yet settled is not usage.
          { id: randomUUID(), ...row, inputTokens: 1000, outputTokens: 1000, pending: true },
        ]);
      });

      const items = await allUsers(admin);
      const mine = items.find((u) => u.id === admin.userId);
      const theirs = items.find((u) => u.id === user.userId);
      assert.deepEqual(mine && { email: mine.email, role: mine.role }, { email: admin.email, role: 'admin' });
      assert.deepEqual(mine?.usage, { llm_input_tokens: 0, llm_output_tokens: 0, audio_minutes: 0 });
      assert.equal(theirs?.role, 'user');
      assert.deepEqual(theirs?.usage, { llm_input_tokens: 105, llm_output_tokens: 21, audio_minutes: 1.5 });

      const recent = (await allUsers(admin, '&since=2021-01-01T00:00:00Z')).find((u) => u.id === user.userId);
      assert.deepEqual(recent?.usage, { llm_input_tokens: 100, llm_output_tokens: 20, audio_minutes: 1.5 });

      const first = await get('/api/v1/admin/users?limit=1', admin);
      const page1 = first.json<{ items: AdminUser[]; next_cursor: string | null }>();
      assert.equal(page1.items.length, 1);
      assert.ok(page1.next_cursor);
      const page2 = (await get(`/api/v1/admin/users?limit=1&cursor=${page1.next_cursor}`, admin)).json<{ items: AdminUser[] }>();
      assert.equal(page2.items.length, 1);
      assert.notEqual(page2.items[0]!.id, page1.items[0]!.id);

      assert.equal((await get('/api/v1/admin/users?since=yesterday', admin)).statusCode, 422);
    });

    test('an admin changes roles, takes effect at once, and cannot demote themself', async () => {
      const promoted = await patch(user.userId, 'admin', admin);
      assert.equal(promoted.statusCode, 200, promoted.body);
      assert.equal(promoted.json<AdminUser>().role, 'admin');
      assert.equal((await get('/api/v1/admin/status', user)).statusCode, 200, 'the new admin is let in at once');

      const self = await patch(admin.userId, 'user', admin);
      assert.equal(self.statusCode, 409, self.body);
      assert.equal(self.json().code, 'admin_self_demotion');

      const demoted = await patch(user.userId, 'user', admin);
      assert.equal(demoted.json<AdminUser>().role, 'user');
      assert.equal((await get('/api/v1/admin/status', user)).statusCode, 403, 'and shut out at once');

      // An admin's API key may read, but changing roles needs keys:manage.
      const created = await ctx().app.inject({
        method: 'POST',
        url: '/api/v1/auth/api-keys',
        headers: bearer(admin.accessToken),
        payload: { name: 'read only' },
      });
      const key = { ...admin, accessToken: created.json<{ key: string }>().key };
      assert.equal((await get('/api/v1/admin/users', key)).statusCode, 200);
      const scoped = await patch(user.userId, 'admin', key);
      assert.equal(scoped.statusCode, 403, scoped.body);
      assert.equal(scoped.json().code, 'insufficient_scope');

      assert.equal((await patch(randomUUID(), 'admin', admin)).statusCode, 404);
      assert.equal((await patch(user.userId, 'owner', admin)).statusCode, 422);
      assert.equal((await patch('not-a-uuid', 'admin', admin)).statusCode, 422);
    });

    test('status: engines, models present, LLM and queue', async () => {
      const res = await get('/api/v1/admin/status', admin);
      assert.equal(res.statusCode, 200, res.body);
      const status = res.json();
      assert.equal(status.engines.default, 'sphinx');
      assert.deepEqual(status.engines.whisper, {
        model: 'tiny',
        models_dir: modelsDir,
        model_present: true,
        present: [
          { file: 'ggml-tiny.bin', name: 'tiny' },
          { file: 'mine.bin', name: null },
        ],
      });
      assert.deepEqual(status.engines.sphinx, { binary: fakeSphinx, available: true });
      assert.deepEqual(status.engines.openai, { configured: false, model: 'whisper-1' });
      assert.deepEqual(status.llm, { provider: 'anthropic', model: 'claude-test', configured: ['anthropic'] });
      assert.deepEqual(status.queue, { mode: 'inline', dashboard: null });
    });
  },
  {
    STT_ENGINE: 'sphinx',
    MODELS_DIR: modelsDir,
    WHISPER_MODEL: 'tiny',
    POCKETSPHINX_BIN: fakeSphinx,
    ANTHROPIC_API_KEY: 'sk-ant-test',
    LLM_MODEL: 'claude-test',
  },
);

test('the dashboard page loses its links to other origins and keeps its own', () => {
  const page =
    '<title>x</title>\n    <link href="https://fonts.googleapis.com/css2?family=IBM+Plex+Sans" rel="stylesheet">\n' +
    '<link href="static/css/main.css" rel="stylesheet"><link rel="icon" href="//cdn.example/x.svg">';
  assert.equal(withoutRemoteStylesheets(page), '<title>x</title>\n    <link href="static/css/main.css" rel="stylesheet">');
});
