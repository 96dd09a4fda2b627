import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasTimes, languageName, toSrt, toText, toVerboseJson, toVtt, type FormatInput } from '../../src/transcription/formats.js';

const input: FormatInput = {
  text: 'Hello there. General Kenobi!',
  language: 'en',
  duration: 3725.5,
  segments: [
    { start: 0, end: 1.5, text: 'Hello there.', words: [{ word: 'Hello', start: 0, end: 0.6 }, { word: 'there', start: 0.7, end: 1.5 }] },
    { start: 3723.004, end: 3725.5, text: 'General\n\nKenobi! --> no', words: null },
  ],
};

test('srt: numbered cues, comma milliseconds, hours past 59 minutes, no blank line inside a cue', () => {
  assert.equal(
    toSrt(input),
    '1\n00:00:00,000 --> 00:00:01,500\nHello there.\n\n2\n01:02:03,004 --> 01:02:05,500\nGeneral\nKenobi! --> no\n',
  );
});

test('vtt: header, dot milliseconds, and no cue-timing arrow inside text', () => {
  assert.equal(
    toVtt(input),
    'WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello there.\n\n01:02:03.004 --> 01:02:05.500\nGeneral\nKenobi! -> no\n',
  );
});

test('verbose_json has OpenAI’s shape and flattens words', () => {
  const v = toVerboseJson(input);
  assert.equal(v.task, 'transcribe');
  assert.equal(v.language, 'english');
  assert.equal(v.duration, 3725.5);
  assert.deepEqual(Object.keys(v.segments[0]!).sort(), [
    'avg_logprob', 'compression_ratio', 'end', 'id', 'no_speech_prob', 'seek', 'start', 'temperature', 'text', 'tokens',
  ]);
  assert.deepEqual(v.words, [{ word: 'Hello', start: 0, end: 0.6 }, { word: 'there', start: 0.7, end: 1.5 }]);
});

test('verbose_json: segment ids count from 0; scores are the engine’s own, null when it gave none', () => {
  const v = toVerboseJson({
    ...input,
    segments: [
      { ...input.segments[0]!, avg_logprob: -0.2, compression_ratio: 1.1, no_speech_prob: 0.01, temperature: 0 },
      { ...input.segments[1]!, avg_logprob: null, compression_ratio: null, no_speech_prob: null, temperature: null },
      { start: 3725.5, end: 3725.5, text: 'Scores never stored' },
    ],
  });
  assert.deepEqual(v.segments.map((s) => s.id), [0, 1, 2]);
  const scores = v.segments.map(({ avg_logprob, compression_ratio, no_speech_prob, temperature }) => ({
    avg_logprob,
    compression_ratio,
    no_speech_prob,
    temperature,
  }));
  const unknown = { avg_logprob: null, compression_ratio: null, no_speech_prob: null, temperature: null };
  assert.deepEqual(scores, [{ avg_logprob: -0.2, compression_ratio: 1.1, no_speech_prob: 0.01, temperature: 0 }, unknown, unknown]);
});

test('text, language names and the timing check', () => {
  assert.equal(toText(input), 'Hello there. General Kenobi!\n');
  assert.equal(languageName('es'), 'spanish');
  assert.equal(languageName(null), 'unknown');
  assert.equal(hasTimes(input), true);
  assert.equal(hasTimes({ ...input, segments: [{ start: null, end: null, text: 'x' }] }), false);
  assert.equal(hasTimes({ ...input, segments: [] }), false);
});

test('speakers: VTT voice spans (escaped), SRT prefixes, verbose_json fields; none where there is no speaker', () => {
  const spoken: FormatInput = {
    ...input,
    segments: [
      { start: 0, end: 1, text: 'Hola.', speaker: 'Ana' },
      { start: 1, end: 2, text: 'Sí.', speaker: 'A&B > C' },
      { start: 2, end: 3, text: 'Nadie.', speaker: null },
    ],
  };
  assert.equal(
    toVtt(spoken),
    'WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<v Ana>Hola.\n\n00:00:01.000 --> 00:00:02.000\n<v A&amp;B &gt; C>Sí.\n\n00:00:02.000 --> 00:00:03.000\nNadie.\n',
  );
  assert.equal(toSrt(spoken).split('\n\n').map((cue) => cue.split('\n')[2]).join('|'), 'Ana: Hola.|A&B > C: Sí.|Nadie.');
  assert.deepEqual(toVerboseJson(spoken).segments.map((s) => s.speaker), ['Ana', 'A&B > C', undefined]);
  assert.ok(!('speaker' in toVerboseJson(spoken).segments[2]!));
});
