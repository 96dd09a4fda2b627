import assert from 'node:assert/strict';
import { test } from 'node:test';
import { asc, eq } from 'drizzle-orm';
import { transcriptionVersions } from '../../src/db/schema.js';
import { asSystem } from '../../src/db/scope.js';
import { describeEachDatabase } from '../helpers/app.js';
import { bearer, createTextEntry, registerUser } from '../helpers/factory.js';

/*
 * TRANSCRIPT_VERSIONS_KEPT: every version stores the whole transcript, so an endlessly edited one
 * keeps only its newest versions, and always version 1 (what the engine wrote).
 */
const TEXT = 'First sentence here. Second sentence there.';

describeEachDatabase(
  'transcript history limit',
  (ctx) => {
    test('past TRANSCRIPT_VERSIONS_KEPT the oldest versions go, version 1 stays, and a dropped one is 404', async () => {
      const { app, database } = ctx();
      const user = await registerUser(app);
      const entry = await createTextEntry(app, user, { original_text: TEXT, language: 'en' });
      const base = `/api/v1/audio/transcription/${entry.transcription.id}`;
      const call = (method: 'GET' | 'PATCH' | 'POST', url: string, payload?: object) =>
        app.inject({ method, url: `${base}${url}`, headers: bearer(user.accessToken), ...(payload ? { payload } : {}) });
      const view = await call('GET', '');
      const segmentId = view.json<{ segments: { id: string }[] }>().segments[0]!.id;

      for (let n = 1; n <= 5; n++) {
        const edited = await call('PATCH', `/segments/${segmentId}`, { text: `Edit number ${n}.` });
        assert.equal(edited.statusCode, 200, edited.body);
        assert.equal(edited.json<{ version: number }>().version, n + 1);
      }

      const page = (await call('GET', '/versions')).json<{ current_version: number; items: { version: number }[] }>();
      assert.equal(page.current_version, 6);
      assert.deepEqual(page.items.map((v) => v.version), [6, 5, 4, 1]);
      const stored = await asSystem(database.db, 'test counts the stored versions', (tx) =>
        tx
          .select({ version: transcriptionVersions.version })
          .from(transcriptionVersions)
          .where(eq(transcriptionVersions.transcriptionId, entry.transcription.id))
          .orderBy(asc(transcriptionVersions.version)),
      );
      assert.deepEqual(stored.map((r) => r.version), [1, 4, 5, 6]);

      assert.equal((await call('GET', '/versions/2')).statusCode, 404);
      assert.equal((await call('GET', '/versions/3')).statusCode, 404);
      const dropped = await call('POST', '/versions/3/revert');
      assert.equal(dropped.statusCode, 404, dropped.body);
      assert.equal((await call('GET', '')).json<{ version: number }>().version, 6, 'a refused revert makes no version');

      assert.equal((await call('GET', '/versions/1')).json<{ text: string }>().text, TEXT);
      const reverted = await call('POST', '/versions/1/revert');
      assert.equal(reverted.statusCode, 200, reverted.body);
      assert.equal(reverted.json<{ text: string; version: number }>().text, TEXT);
      assert.deepEqual(
        (await call('GET', '/versions')).json<{ items: { version: number }[] }>().items.map((v) => v.version),
        [7, 6, 5, 1],
      );
    });
  },
  { TRANSCRIPT_VERSIONS_KEPT: '3' },
);
