import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { JobEventHub, type JobEvent } from '../../src/jobs/events.js';
import type { JobQueue } from '../../src/jobs/queue.js';
import { describeEachDatabase } from '../helpers/app.js';
import { audioForm, librivoxClips } from '../helpers/audio.js';
import { bearer, registerUser } from '../helpers/factory.js';

function parseEvents(body: string): { id?: number; event: string; data: Record<string, unknown> }[] {
  return body
    .trim()
    .split('\n\n')
    .map((block) => {
      const fields = Object.fromEntries(block.split('\n').map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]));
      return {
        ...(fields.id ? { id: Number(fields.id) } : {}),
        event: fields.event!,
        data: JSON.parse(fields.data!) as Record<string, unknown>,
      };
    });
}

test('the hub keeps the worker\'s numbering, drops stale events and replays only those after Last-Event-ID', () => {
  const queue = new EventEmitter() as unknown as JobQueue;
  const hub = new JobEventHub(queue);
  queue.emit('progress', 'job-1', 10, 1_000_001);
  queue.emit('partial', 'job-1', { text: 'hello' }, 1_000_002);
  queue.emit('progress', 'job-2', 50, 1_000_001);
  queue.emit('progress', 'job-1', 40, 1_000_003);
  // A late event of an earlier attempt, heard after the new attempt's: ignored.
  queue.emit('progress', 'job-1', 5, 1_000_002);
  const all = hub.subscribe('job-1', null, () => undefined);
  assert.deepEqual(all.replay.map((e) => [e.id, e.event]), [[1_000_001, 'progress'], [1_000_002, 'segment'], [1_000_003, 'progress']]);
  all.unsubscribe();
  const seen: JobEvent[] = [];
  const after = hub.subscribe('job-1', 1_000_002, (e) => seen.push(e));
  assert.deepEqual(after.replay.map((e) => e.id), [1_000_003]);
  queue.emit('progress', 'job-1', 10, 2_000_001);
  queue.emit('settled', 'job-1', 'completed');
  assert.deepEqual(seen.map((e) => [e.id, e.event]), [[2_000_001, 'progress'], [2_000_002, 'completed']]);
  after.unsubscribe();
});

describeEachDatabase(
  'live job events',
  (ctx) => {
    test('SSE: progress, segments as the engine makes them, then completed, and the stream closes', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const clip = librivoxClips().find((c) => c.id.endsWith('0870'))!;
      const up = await app.inject({
        method: 'POST',
        url: '/api/v1/audio/upload',
        headers: bearer(user.accessToken),
        payload: audioForm(await readFile(clip.wavPath), 'clip.wav'),
      });
      const queued = await app.inject({ method: 'POST', url: `/api/v1/audio/${up.json().id}/transcribe`, headers: bearer(user.accessToken) });
      const jobId = queued.json().job_id;
      const res = await app.inject({ method: 'GET', url: `/api/v1/jobs/${jobId}/events`, headers: bearer(user.accessToken) });
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /^text\/event-stream/);
      const events = parseEvents(res.body);
      const last = events.at(-1)!;
      assert.equal(last.event, 'completed', res.body);
      assert.equal((last.data.result as { transcription_id: string }).transcription_id, queued.json().transcription.id);
      const progress = events.filter((e) => e.event === 'progress').map((e) => Number(e.data.progress));
      assert.ok(progress.length >= 2, res.body);
      assert.deepEqual([...progress].sort((a, b) => a - b), progress, 'progress never goes back');
      const segments = events.filter((e) => e.event === 'segment');
      assert.ok(segments.length >= 1, 'segments arrive before the job completes');
      assert.match(String(segments[0]!.data.text), /\w/);
      const ids = events.filter((e) => e.id !== undefined).map((e) => e.id!);
      assert.deepEqual([...ids].sort((a, b) => a - b), ids, 'event ids increase');

      const again = await app.inject({
        method: 'GET',
        url: `/api/v1/jobs/${jobId}/events`,
        headers: { ...bearer(user.accessToken), 'last-event-id': String(ids.at(-1) ?? 0) },
      });
      assert.deepEqual(parseEvents(again.body).map((e) => e.event), ['completed'], 'a finished job answers its end at once');

      const other = await registerUser(app);
      const stranger = await app.inject({ method: 'GET', url: `/api/v1/jobs/${jobId}/events`, headers: bearer(other.accessToken) });
      assert.equal(stranger.statusCode, 404);
    });
  },
  {},
  { startQueue: true },
);
