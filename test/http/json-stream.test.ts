import assert from 'node:assert/strict';
import { text } from 'node:stream/consumers';
import { test } from 'node:test';
import fc from 'fast-check';
import { jsonStream } from '../../src/http/json-stream.js';

test('streams exactly the text JSON.stringify gives, for any JSON value', async () => {
  await fc.assert(
    fc.asyncProperty(fc.jsonValue(), async (value) => {
      assert.equal(await text(jsonStream(value)), JSON.stringify(value));
    }),
    { seed: 20261130, numRuns: 300 },
  );
});

test('objects drop undefined members and use toJSON, as JSON.stringify does', async () => {
  const value = { a: undefined, b: new Date(0), c: [undefined, 1], d: { e: null } };
  assert.equal(await text(jsonStream(value)), JSON.stringify(value));
});

test('a long string is escaped in slices without splitting a surrogate pair or an escape', async () => {
  // Emoji (surrogate pairs), quotes, backslashes and control characters across every slice edge.
  const unit = '\u{1F600}"\\\n\u0001é';
  const long = unit.repeat(300_000);
  for (const value of [long, `x${long}`, { transcript: long, segments: [{ text: long.slice(0, 1_000) }] }]) {
    const streamed = await text(jsonStream(value));
    assert.equal(streamed, JSON.stringify(value));
    assert.deepEqual(JSON.parse(streamed), value);
  }
});
