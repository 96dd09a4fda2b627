import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { newId } from '../../src/db/ids.js';
import { storeRealtimeSession } from '../../src/realtime/store-session.js';
import { describeEachDatabase } from '../helpers/app.js';
import { shortClip } from '../helpers/audio.js';
import { bearer, registerUser } from '../helpers/factory.js';

interface Segment {
  index: number;
  start: number;
  end: number;
  text: string;
  words: Array<{ word: string; start: number; end: number }> | null;
}

describeEachDatabase(
  'storeRealtimeSession',
  (ctx) => {
    test('a live session becomes a recording with a completed, searchable, exportable transcript and a webhook event', async () => {
      const { app } = ctx();
      const user = await registerUser(app, 'live');
      const hook = await app.inject({
        method: 'POST',
        url: '/api/v1/webhooks',
        headers: bearer(user.accessToken),
        payload: { url: 'http://127.0.0.1:9/hook', events: ['transcription.completed'] },
      });
      assert.equal(hook.statusCode, 201, hook.body);

      const source = shortClip().wavPath;
      const wavPath = path.join(mkdtempSync(path.join(tmpdir(), 'transcribo-live-')), 'session.wav');
      copyFileSync(source, wavPath);
      const bytes = readFileSync(source);
      const startedAt = new Date('2026-03-01T10:00:00.000Z');
      const { services } = app.runtime;
      const announced = newId();
      const stored = await storeRealtimeSession(
        { recordings: services.recordings, transcriptions: services.transcriptions },
        {
          userId: user.userId,
          recordingId: announced,
          wavPath,
          durationSeconds: 2.99,
          language: 'en',
          engine: 'sphinx',
          model: null,
          startedAt,
          turns: [
            { start: 1.6, end: 2.9, text: ' an ill disposed young man ', words: [{ word: 'ill', start: 1.9, end: 2.1 }] },
            { start: 0.2, end: 1.4, text: 'he was not' },
            { start: 2.95, end: 2.99, text: '   ' },
          ],
        },
      );
      assert.ok(!existsSync(wavPath), 'the WAV was taken into storage');
      assert.equal(stored.recordingId, announced, 'the recording has the id its session announced');

      const recording = await app.inject({ url: `/api/v1/audio/${stored.recordingId}`, headers: bearer(user.accessToken) });
      assert.equal(recording.statusCode, 200, recording.body);
      const rec = recording.json<Record<string, unknown>>();
      assert.equal(rec.source, 'realtime');
      assert.equal(rec.kind, 'audio');
      assert.equal(rec.title, 'Live session 2026-03-01T10:00:00.000Z');
      assert.equal(rec.size_bytes, bytes.length);
      assert.equal(rec.sha256, createHash('sha256').update(bytes).digest('hex'));
      assert.equal(rec.duration_seconds, 2.99);
      const file = await app.inject({ url: `/api/v1/audio/${stored.recordingId}/file`, headers: bearer(user.accessToken) });
      assert.equal(file.statusCode, 200);
      assert.ok(file.rawPayload.equals(bytes), 'the stored audio is the session WAV');

      const res = await app.inject({ url: `/api/v1/audio/${stored.recordingId}/transcription`, headers: bearer(user.accessToken) });
      assert.equal(res.statusCode, 200, res.body);
      const view = res.json<{ id: string; status: string; engine: string; language: string; text: string; segments: Segment[] }>();
      assert.equal(view.id, stored.transcriptionId);
      assert.equal(view.status, 'completed');
      assert.equal(view.engine, 'sphinx');
      assert.equal(view.language, 'en');
      assert.equal(view.text, 'he was not an ill disposed young man');
      assert.deepEqual(
        view.segments.map((s) => [s.index, s.start, s.end, s.text]),
        [
          [0, 0.2, 1.4, 'he was not'],
          [1, 1.6, 2.9, 'an ill disposed young man'],
        ],
      );
      assert.deepEqual(view.segments[1]!.words, [{ word: 'ill', start: 1.9, end: 2.1 }]);

      const srt = await app.inject({ url: `/api/v1/audio/${stored.recordingId}/transcription?format=srt`, headers: bearer(user.accessToken) });
      assert.equal(srt.statusCode, 200, srt.body);
      assert.match(srt.body, /00:00:00,200 --> 00:00:01,400\s+he was not/);
      assert.match(srt.body, /00:00:01,600 --> 00:00:02,900\s+an ill disposed young man/);

      const search = await app.inject({ url: '/api/v1/search?q=disposed', headers: bearer(user.accessToken) });
      assert.equal(search.statusCode, 200, search.body);
      const hits = search.json<{ items: Array<{ recording_id: string; start: number }> }>().items;
      assert.deepEqual(hits.map((h) => [h.recording_id, h.start]), [[stored.recordingId, 1.6]]);

      const deliveries = await app.inject({ url: `/api/v1/webhooks/${hook.json<{ id: string }>().id}/deliveries`, headers: bearer(user.accessToken) });
      const events = deliveries.json<{ items: Array<{ event: string }> }>().items;
      assert.deepEqual(events.map((d) => d.event), ['transcription.completed']);
    });
  },
  { WEBHOOK_ALLOW_PRIVATE: 'true' },
);
