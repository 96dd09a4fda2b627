import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  summarizeTranscript,
  SummaryBudgetError,
  type SummaryCompleteFunction,
} from '../../../src/chat/grounding/summarize.js';
import { parseJsonObject, SummaryParseError } from '../../../src/chat/grounding/summary-parse.js';
import { estimateMessagesTokens } from '../../../src/chat/grounding/tokens.js';
import type { GroundingSegment } from '../../../src/chat/grounding/transcript.js';
import type { LlmMessage } from '../../../src/chat/providers/provider.js';

const segments: GroundingSegment[] = Array.from({ length: 12 }, (_, index) => ({
  id: `seg-${index}`,
  index,
  start: index * 10,
  end: index * 10 + 10,
  text: `Speaker talks about topic number ${index}, with a few more words to take some room in the prompt.`,
}));

interface Recorded {
  messages: LlmMessage[];
  json: boolean;
}

/** Answers like a model would, by looking at the prompt; records every call. */
function fakeModel(reply: (messages: LlmMessage[], call: number) => string) {
  const calls: Recorded[] = [];
  const complete: SummaryCompleteFunction = async (messages, options) => {
    calls.push({ messages, json: options.json });
    return { content: reply(messages, calls.length), usage: { inputTokens: 100, outputTokens: 10 } };
  };
  return { calls, complete };
}

const prompt = (messages: LlmMessage[]) => messages.map((m) => m.content).join('\n');
const isMerge = (messages: LlmMessage[]) => /merge the partial summaries/.test(prompt(messages));
/** The segment numbers in a map prompt's transcript. */
const shown = (messages: LlmMessage[]) =>
  [...prompt(messages).matchAll(/^\[(\d+)\] /gm)].map((m) => Number(m[1]));

test('a transcript that fits is summarised in one JSON call', async () => {
  const { calls, complete } = fakeModel(() =>
    JSON.stringify({
      summary: 'A talk about topics [1] and an invented one [77].',
      key_points: [
        { text: 'Topic one', segments: [1, 2, 99] },
        { text: 'Topic three', segments: ['3', '[4]'] },
        'A bare string point',
        { text: '', segments: [5] },
      ],
      action_items: [
        { text: 'Send the notes [6]', owner: 'Ana', segments: [6] },
        { text: 'Book a room', owner: '', segments: [] },
      ],
      language: 'en',
    }),
  );
  const result = await summarizeTranscript({
    segments,
    title: 'Talk',
    language: 'en',
    budgetTokens: 100_000,
    complete,
  });

  assert.equal(calls.length, 1);
  assert.equal(result.calls, 1);
  assert.equal(calls[0]?.json, true);
  assert.match(prompt(calls[0]?.messages ?? []), /\[11\] \(01:50–02:00\) Speaker talks about topic number 11/);
  assert.match(prompt(calls[0]?.messages ?? []), /"key_points"/);
  assert.match(prompt(calls[0]?.messages ?? []), /English/);

  assert.equal(result.summary, 'A talk about topics [1] and an invented one.');
  assert.deepEqual(result.key_points, [
    { text: 'Topic one', segments: [1, 2] },
    { text: 'Topic three', segments: [3, 4] },
    { text: 'A bare string point', segments: [] },
  ]);
  assert.deepEqual(result.action_items, [
    { text: 'Send the notes [6]', owner: 'Ana', segments: [6] },
    { text: 'Book a room', owner: null, segments: [] },
  ]);
  assert.equal(result.language, 'en');
  assert.deepEqual(
    result.citations.map((c) => c.segment_id),
    ['seg-1', 'seg-2', 'seg-3', 'seg-4', 'seg-6'],
  );
  assert.deepEqual(result.citations[0], { segment_id: 'seg-1', start: 10, end: 20, text: segments[1]?.text });
  assert.deepEqual(result.usage, { inputTokens: 100, outputTokens: 10 });
});

test('a transcript over budget is summarised part by part, then merged in one call', async () => {
  const { calls, complete } = fakeModel((messages) => {
    if (isMerge(messages)) {
      return JSON.stringify({
        summary: 'Merged summary.',
        key_points: [{ text: 'Merged point', segments: [0, 5, 11, 42] }],
        action_items: [{ text: 'Merged action', owner: 'Bo', segments: [7, -1] }],
        language: 'en',
      });
    }
    const part = shown(messages);
    const first = part[0] ?? -1;
    return JSON.stringify({
      summary: `Part from ${first}.`,
      // The last number is outside this part: the model was not shown it.
      key_points: [{ text: `Point ${first}`, segments: [...part, 500] }],
      action_items: [{ text: `Action ${first}`, owner: null, segments: [first] }],
      language: 'en',
    });
  });
  const budgetTokens = 450;
  const result = await summarizeTranscript({ segments, title: 'Talk', language: 'en', budgetTokens, complete });

  const maps = calls.filter((c) => !isMerge(c.messages));
  const merges = calls.filter((c) => isMerge(c.messages));
  assert.ok(maps.length >= 3, `${maps.length} map calls`);
  assert.equal(merges.length, 1);
  assert.equal(calls.length, maps.length + 1);
  assert.ok(isMerge(calls[calls.length - 1]?.messages ?? []), 'the merge comes last');
  assert.equal(result.calls, calls.length);
  assert.deepEqual(result.usage, { inputTokens: 100 * calls.length, outputTokens: 10 * calls.length });

  // Every call fits the budget; the parts cover the transcript once, in order, at segment boundaries.
  for (const call of calls) assert.ok(estimateMessagesTokens(call.messages) <= budgetTokens);
  assert.deepEqual(
    maps.flatMap((c) => shown(c.messages)),
    segments.map((s) => s.index),
  );
  assert.match(prompt(maps[0]?.messages ?? []), new RegExp(`part 1 of ${maps.length}`));

  // The merge prompt carries every partial summary, with their segment numbers, minus invented ones.
  const mergePrompt = prompt(merges[0]?.messages ?? []);
  for (const map of maps) {
    const part = shown(map.messages);
    assert.ok(mergePrompt.includes(`Part from ${part[0]}.`));
    assert.ok(mergePrompt.includes(JSON.stringify({ text: `Point ${part[0]}`, segments: part })));
  }
  assert.doesNotMatch(mergePrompt, /500/);

  assert.equal(result.summary, 'Merged summary.');
  assert.deepEqual(result.key_points, [{ text: 'Merged point', segments: [0, 5, 11] }]);
  assert.deepEqual(result.action_items, [{ text: 'Merged action', owner: 'Bo', segments: [7] }]);
  assert.deepEqual(
    result.citations.map((c) => c.segment_id),
    ['seg-0', 'seg-5', 'seg-7', 'seg-11'],
  );
});

test('partial summaries too many for one merge are merged in rounds', async () => {
  const { calls, complete } = fakeModel((messages) => {
    const filler = 'x'.repeat(400);
    if (isMerge(messages)) return JSON.stringify({ summary: `merged ${filler}`, key_points: [], action_items: [] });
    return JSON.stringify({
      summary: `part ${filler}`,
      key_points: [{ text: 'p', segments: shown(messages) }],
      action_items: [],
    });
  });
  const result = await summarizeTranscript({ segments, title: 'Talk', budgetTokens: 400, complete, concurrency: 3 });
  const merges = calls.filter((c) => isMerge(c.messages));
  assert.ok(merges.length >= 2, `${merges.length} merge calls`);
  assert.match(result.summary, /^merged/);
  assert.equal(result.language, null);
  assert.equal(result.calls, calls.length);
});

test('the summary language falls back to the transcript language', async () => {
  const { complete } = fakeModel(() => '{"summary": "Resumen.", "key_points": [], "action_items": []}');
  const result = await summarizeTranscript({
    segments,
    title: 'Charla',
    language: 'es',
    budgetTokens: 100_000,
    complete,
  });
  assert.equal(result.language, 'es');
  assert.deepEqual(result.citations, []);
});

test('JSON in a code fence or wrapped in prose is found', async () => {
  assert.deepEqual(parseJsonObject('```json\n{"summary": "Fenced {braces}"}\n```'), { summary: 'Fenced {braces}' });
  assert.deepEqual(parseJsonObject('Here you go:\n```\n{"a": 1}\n```\nAnything else?'), { a: 1 });
  assert.deepEqual(parseJsonObject('Sure! {"a": {"b": [1]}} Hope it helps.'), { a: { b: [1] } });

  const { complete } = fakeModel(
    () => '```json\n{"summary": "Fenced.", "key_points": [{"text": "k", "segments": [2]}], "action_items": []}\n```',
  );
  const result = await summarizeTranscript({ segments, title: 'Talk', budgetTokens: 100_000, complete });
  assert.equal(result.summary, 'Fenced.');
  assert.deepEqual(result.key_points, [{ text: 'k', segments: [2] }]);
});

test('garbage from the model is a clear error', async () => {
  const { complete } = fakeModel(() => 'I am sorry, I cannot summarise this.');
  const run = summarizeTranscript({ segments, title: 'Talk', budgetTokens: 100_000, complete });
  await assert.rejects(run, (error: unknown) => {
    assert.ok(error instanceof SummaryParseError);
    assert.match(error.message, /not a JSON object/);
    assert.match(error.message, /I am sorry/);
    assert.equal(error.raw, 'I am sorry, I cannot summarise this.');
    return true;
  });
  assert.throws(() => parseJsonObject('{"summary": "cut off'), SummaryParseError);
  assert.throws(() => parseJsonObject('{not: json}'), /not a JSON object/);
  assert.throws(() => parseJsonObject('[1, 2]'), SummaryParseError);
});

test('a map call with garbage names its part', async () => {
  const { complete } = fakeModel((_, call) => (call === 2 ? 'nope' : '{"summary": "ok"}'));
  await assert.rejects(
    summarizeTranscript({ segments, title: 'Talk', budgetTokens: 400, complete }),
    /summary of part 2 of \d+/,
  );
});

test('a budget too small for the instructions is refused before any call', async () => {
  const { calls, complete } = fakeModel(() => '{}');
  await assert.rejects(
    summarizeTranscript({ segments, title: 'Talk', budgetTokens: 50, complete }),
    SummaryBudgetError,
  );
  assert.equal(calls.length, 0);
});

test('an empty transcript needs no call', async () => {
  const { calls, complete } = fakeModel(() => '{}');
  const result = await summarizeTranscript({
    segments: [],
    title: 'Empty',
    language: 'fr',
    budgetTokens: 1000,
    complete,
  });
  assert.equal(calls.length, 0);
  assert.deepEqual(result, {
    summary: '',
    key_points: [],
    action_items: [],
    language: 'fr',
    citations: [],
    usage: { inputTokens: 0, outputTokens: 0 },
    calls: 0,
  });
});
