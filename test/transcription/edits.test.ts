import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'drizzle-orm';
import type { App } from '../../src/app.js';
import { asSystem } from '../../src/db/scope.js';
import type { AppDatabase } from '../../src/db/client.js';
import { describeEachDatabase } from '../helpers/app.js';
import { bearer, createTextEntry, registerUser, type TestUser } from '../helpers/factory.js';

interface Word {
  word: string;
  start: number;
  end: number;
  confidence?: number;
  edited?: boolean;
}
interface Segment {
  id: string;
  index: number;
  start: number | null;
  end: number | null;
  text: string;
  speaker: string | null;
  words: Word[] | null;
}
interface View {
  id: string;
  text: string;
  version: number;
  segments: Segment[];
}

function client(app: App, user: TestUser, transcriptionId: string) {
  const base = `/api/v1/audio/transcription/${transcriptionId}`;
  const call = (method: 'GET' | 'PATCH' | 'POST' | 'PUT', path: string, payload?: unknown, ifMatch?: string) =>
    app.inject({
      method,
      url: `${base}${path}`,
      headers: { ...bearer(user.accessToken), ...(ifMatch ? { 'if-match': ifMatch } : {}) },
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
  return {
    call,
    get: async () => {
      const res = await call('GET', '');
      assert.equal(res.statusCode, 200, res.body);
      return { view: res.json<View>(), etag: String(res.headers.etag) };
    },
    patch: (segmentId: string, body: object, ifMatch?: string) => call('PATCH', `/segments/${segmentId}`, body, ifMatch),
  };
}

/** Engine-like times and words on a text upload's segments: two seconds per segment, words evenly spread. */
async function giveWordTimes(db: AppDatabase, transcriptionId: string): Promise<void> {
  await asSystem(db, 'test gives the segments an engine’s word times', (tx) =>
    tx.execute(sql`
      update transcript_segments s set start_seconds = s.index * 2, end_seconds = s.index * 2 + 2,
        words = (select jsonb_agg(jsonb_build_object('word', w, 'start', s.index * 2 + (n - 1) * 0.4,
                                                     'end', s.index * 2 + (n - 1) * 0.4 + 0.3, 'confidence', 0.9) order by n)
                 from unnest(regexp_split_to_array(s.text, '\\s+')) with ordinality as t(w, n))
      where s.transcription_id = ${transcriptionId}`),
  );
}

const TEXT = 'The quick brown fox jumps. Over the lazy dog today. And then it sleeps.';

describeEachDatabase('transcript edits', (ctx) => {
  test('an edit makes a version with its ETag; a stale If-Match is 412 and changes nothing; revert restores', async () => {
    const { app } = ctx();
    const user = await registerUser(app);
    const entry = await createTextEntry(app, user, { original_text: TEXT, language: 'en' });
    const t = client(app, user, entry.transcription.id);
    const first = await t.get();
    assert.equal(first.view.version, 1);
    assert.equal(first.etag, `"${entry.transcription.id}.1"`);
    const [s0] = first.view.segments;

    const edited = await t.patch(s0!.id, { text: 'The quick red fox jumps.' }, first.etag);
    assert.equal(edited.statusCode, 200, edited.body);
    assert.equal(edited.headers.etag, `"${entry.transcription.id}.2"`);
    assert.equal(edited.json<View>().version, 2);
    assert.equal(edited.json<View>().text, 'The quick red fox jumps. Over the lazy dog today. And then it sleeps.');

    // Someone who read version 1 edits: refused, and their change is not applied.
    const stale = await t.patch(s0!.id, { text: 'The slow brown fox jumps.' }, first.etag);
    assert.equal(stale.statusCode, 412, stale.body);
    assert.equal(stale.json<{ code: string }>().code, 'version_conflict');
    assert.equal(stale.headers.etag, `"${entry.transcription.id}.2"`);
    assert.equal((await t.get()).view.segments[0]!.text, 'The quick red fox jumps.');

    // Two edits racing from the same version: one wins, the other is told so.
    const racing = await Promise.all([
      t.patch(s0!.id, { text: 'Winner one.' }, String(edited.headers.etag)),
      t.patch(s0!.id, { text: 'Winner two.' }, String(edited.headers.etag)),
    ]);
    assert.deepEqual(racing.map((r) => r.statusCode).sort(), [200, 412]);
    const winner = racing.find((r) => r.statusCode === 200)!.json<View>();
    assert.equal((await t.get()).view.segments[0]!.text, winner.segments[0]!.text);

    // The same text again changes nothing and makes no version.
    const noop = await t.patch(s0!.id, { text: winner.segments[0]!.text });
    assert.equal(noop.json<View>().version, 3);

    const list = await t.call('GET', '/versions');
    assert.equal(list.statusCode, 200, list.body);
    const page = list.json<{ current_version: number; items: Array<{ version: number; action: string; author_id: string | null; changed_segments: number }> }>();
    assert.equal(page.current_version, 3);
    assert.deepEqual(
      page.items.map((v) => [v.version, v.action, v.author_id, v.changed_segments]),
      [
        [3, 'edit', user.userId, 1],
        [2, 'edit', user.userId, 1],
        [1, 'transcribed', null, 0],
      ],
    );
    const paged = (await t.call('GET', '/versions?limit=2')).json<{ items: Array<{ version: number }>; next_cursor: string }>();
    assert.deepEqual(paged.items.map((v) => v.version), [3, 2]);
    assert.deepEqual((await t.call('GET', `/versions?limit=2&cursor=${paged.next_cursor}`)).json<{ items: Array<{ version: number }> }>().items.map((v) => v.version), [1]);

    const v2 = (await t.call('GET', '/versions/2')).json<{ changes: unknown[]; segments: Segment[]; text: string }>();
    assert.deepEqual(v2.changes, [
      { segment_id: s0!.id, op: 'update', before: { text: 'The quick brown fox jumps.' }, after: { text: 'The quick red fox jumps.' } },
    ]);
    assert.equal(v2.text, 'The quick red fox jumps. Over the lazy dog today. And then it sleeps.');
    assert.equal((await t.call('GET', '/versions/1')).json<{ text: string }>().text, TEXT);
    assert.equal((await t.call('GET', '/versions/9')).statusCode, 404);

    const reverted = await t.call('POST', '/versions/1/revert', undefined, `"${entry.transcription.id}.3"`);
    assert.equal(reverted.statusCode, 200, reverted.body);
    assert.equal(reverted.json<View>().version, 4);
    assert.equal(reverted.json<View>().text, TEXT);
    const v4 = (await t.call('GET', '/versions/4')).json<{ action: string; reverted_to: number }>();
    assert.deepEqual([v4.action, v4.reverted_to], ['revert', 1]);
    // The revert is history too: reverting it brings the edit back.
    assert.equal((await t.call('POST', '/versions/3/revert')).json<View>().segments[0]!.text, winner.segments[0]!.text);
  });

  test('bad edits are 4xx and change nothing', async () => {
    const { app } = ctx();
    const user = await registerUser(app);
    const entry = await createTextEntry(app, user, { original_text: TEXT, language: 'en' });
    const t = client(app, user, entry.transcription.id);
    const [s0, s1] = (await t.get()).view.segments;
    const cases: Array<[Promise<{ statusCode: number; body: string }>, number, string]> = [
      [t.patch(s0!.id, { text: '   ' }), 422, 'validation_failed'],
      [t.patch(s0!.id, {}), 422, 'validation_failed'],
      [t.patch(s0!.id, { start: 1 }), 422, 'validation_failed'], // a text entry's segment has no end to keep
      [t.patch(s0!.id, { start: 3, end: 1 }), 422, 'validation_failed'],
      [t.patch('00000000-0000-7000-8000-000000000000', { text: 'x' }), 404, 'not_found'],
      [t.call('PATCH', '/segments', { segments: [{ id: s0!.id, text: 'a' }, { id: s0!.id, text: 'b' }] }), 422, 'validation_failed'],
      [t.call('POST', `/segments/${s0!.id}/split`, { offset: 999 }), 422, 'validation_failed'],
      [t.call('POST', '/segments/merge', { segment_ids: [s0!.id, (await t.get()).view.segments[2]!.id] }), 422, 'validation_failed'],
      [t.call('PUT', '/speakers', { speakers: { Nobody: 'Ana' } }), 422, 'speaker_not_found'],
      [t.patch(s1!.id, { text: 'x' }, '"not-a-version"'), 412, 'version_conflict'],
    ];
    for (const [pending, status, code] of cases) {
      const res = await pending;
      assert.equal(res.statusCode, status, res.body);
      assert.equal(JSON.parse(res.body).code, code, res.body);
    }
    const after = await t.get();
    assert.equal(after.view.version, 1);
    assert.equal(after.view.text, TEXT);
  });

  test('bulk edits are one version; word times survive: unchanged words keep theirs, changed ones are interpolated', async () => {
    const { app, database } = ctx();
    const user = await registerUser(app);
    const entry = await createTextEntry(app, user, { original_text: TEXT, language: 'en' });
    await giveWordTimes(database.db, entry.transcription.id);
    const t = client(app, user, entry.transcription.id);
    const before = (await t.get()).view.segments;

    const res = await t.call('PATCH', '/segments', {
      segments: [
        { id: before[0]!.id, text: 'The quick red fox jumps.' },
        { id: before[1]!.id, speaker: 'Ana', start: 2, end: 3 },
      ],
    });
    assert.equal(res.statusCode, 200, res.body);
    const after = res.json<View>();
    assert.equal(after.version, 2);
    const words = after.segments[0]!.words!;
    assert.deepEqual(words.map((w) => w.word), ['The', 'quick', 'red', 'fox', 'jumps.']);
    for (const i of [0, 1, 3, 4]) assert.deepEqual(words[i], before[0]!.words![i], `word ${i} keeps its time`);
    assert.equal(words[2]!.edited, true);
    assert.equal(words[2]!.confidence, undefined);
    assert.ok(words[2]!.start >= words[1]!.end && words[2]!.end <= words[3]!.start, JSON.stringify(words));

    // Times edited: the segment's words move with it, proportionally.
    const moved = after.segments[1]!;
    assert.deepEqual([moved.start, moved.end, moved.speaker], [2, 3, 'Ana']);
    assert.deepEqual(
      moved.words!.map((w) => Math.round(w.start * 100) / 100),
      before[1]!.words!.map((w) => Math.round((2 + (w.start - 2) / 2) * 100) / 100),
    );
    assert.equal((await t.call('GET', '/versions/2')).json<{ changes: unknown[] }>().changes.length, 2);
  });

  test('split and merge renumber the segments and keep the times; merge undoes a split', async () => {
    const { app, database } = ctx();
    const user = await registerUser(app);
    const entry = await createTextEntry(app, user, { original_text: TEXT, language: 'en' });
    await giveWordTimes(database.db, entry.transcription.id);
    const t = client(app, user, entry.transcription.id);
    const before = (await t.get()).view.segments;
    const target = before[1]!; // 'Over the lazy dog today.' from 2 s to 4 s, a word every 0.4 s

    // Offset 7 falls inside "the": the cut moves to the end of that word.
    const split = await t.call('POST', `/segments/${target.id}/split`, { offset: 7 });
    assert.equal(split.statusCode, 200, split.body);
    const parts = split.json<View>().segments;
    assert.deepEqual(
      parts.map((s) => [s.index, s.text]),
      [
        [0, 'The quick brown fox jumps.'],
        [1, 'Over the'],
        [2, 'lazy dog today.'],
        [3, 'And then it sleeps.'],
      ],
    );
    assert.equal(parts[1]!.id, target.id);
    assert.notEqual(parts[2]!.id, target.id);
    assert.equal(parts[1]!.start, 2);
    assert.equal(parts[2]!.start, target.words![2]!.start); // "lazy" starts the second part
    assert.equal(parts[1]!.end, parts[2]!.start);
    assert.equal(parts[2]!.end, 4);
    assert.deepEqual(parts[2]!.words, target.words!.slice(2));

    const merged = await t.call('POST', '/segments/merge', { segment_ids: [parts[2]!.id, parts[1]!.id] });
    assert.equal(merged.statusCode, 200, merged.body);
    const whole = merged.json<View>().segments;
    assert.deepEqual(
      whole.map((s) => [s.index, s.id, s.text, s.start, s.end]),
      before.map((s) => [s.index, s.id, s.text, s.start, s.end]),
    );
    assert.deepEqual(whole[1]!.words, target.words);
    const versions = (await t.call('GET', '/versions')).json<{ items: Array<{ action: string }> }>().items.map((v) => v.action);
    assert.deepEqual(versions, ['merge', 'split', 'transcribed']);
    const mergeChanges = (await t.call('GET', '/versions/3')).json<{ changes: Array<{ op: string; segment_id: string }> }>().changes;
    // The last segment moves back one place: renumbering is a change too.
    assert.deepEqual(
      mergeChanges.map((c) => [c.op, c.segment_id]).sort(),
      [['delete', parts[2]!.id], ['update', target.id], ['update', before[2]!.id]].sort(),
    );
  });

  test('speakers are renamed in one version, everywhere they appear', async () => {
    const { app } = ctx();
    const user = await registerUser(app);
    const entry = await createTextEntry(app, user, {
      original_text: 'SPEAKER_1: Hello there.\nSPEAKER_2: Hi.\nSPEAKER_1: How are you?',
      language: 'en',
    });
    const t = client(app, user, entry.transcription.id);
    const res = await t.call('PUT', '/speakers', { speakers: { SPEAKER_1: 'Ana', SPEAKER_2: 'Luis' } }, (await t.get()).etag);
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(
      res.json<View>().segments.map((s) => s.speaker),
      ['Ana', 'Luis', 'Ana'],
    );
    assert.equal(res.json<View>().version, 2);
    const cleared = await t.call('PUT', '/speakers', { speakers: { Luis: null } });
    assert.deepEqual(cleared.json<View>().segments.map((s) => s.speaker), ['Ana', null, 'Ana']);
  });

  test("another user can neither read nor change a transcript's versions", async () => {
    const { app } = ctx();
    const owner = await registerUser(app, 'owner');
    const other = await registerUser(app, 'other');
    const entry = await createTextEntry(app, owner, { original_text: TEXT, language: 'en' });
    const mine = client(app, owner, entry.transcription.id);
    const segmentId = (await mine.get()).view.segments[0]!.id;
    assert.equal((await mine.patch(segmentId, { text: 'Mine.' })).statusCode, 200);

    const theirs = client(app, other, entry.transcription.id);
    const attempts = [
      theirs.patch(segmentId, { text: 'Theirs.' }),
      theirs.call('PATCH', '/segments', { segments: [{ id: segmentId, text: 'Theirs.' }] }),
      theirs.call('POST', `/segments/${segmentId}/split`, { offset: 2 }),
      theirs.call('PUT', '/speakers', { speakers: { x: 'y' } }),
      theirs.call('GET', '/versions'),
      theirs.call('GET', '/versions/1'),
      theirs.call('POST', '/versions/1/revert'),
    ];
    for (const res of await Promise.all(attempts)) assert.equal(res.statusCode, 404, res.body);
    const after = await mine.get();
    assert.equal(after.view.version, 2);
    assert.equal(after.view.segments[0]!.text, 'Mine.');
  });
});
