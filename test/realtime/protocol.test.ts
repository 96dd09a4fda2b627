import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { testConfig } from '../helpers/config.js';
import { InputBuffer } from '../../src/realtime/input-buffer.js';
import { parseClientEvent, REALTIME_ERROR_CODES } from '../../src/realtime/protocol.js';
import { applyUpdate, defaultSettings, InvalidSession } from '../../src/realtime/session-config.js';

const stt = testConfig().stt;

describe('realtime protocol', () => {
  it("documents every error event code in README's realtime table", () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const table = readme.slice(readme.indexOf('| `error` code |'));
    for (const code of REALTIME_ERROR_CODES) assert.ok(table.includes(`| \`${code}\``), `${code} has no README row`);
  });

  it('parses events and names what is wrong with the rest', () => {
    assert.deepEqual(parseClientEvent('{"type":"input_audio_buffer.clear","event_id":"e1"}'), {
      event: { type: 'input_audio_buffer.clear', event_id: 'e1' },
    });
    const code = (data: string) => {
      const parsed = parseClientEvent(data);
      return 'error' in parsed ? parsed.error.code : null;
    };
    assert.equal(code('nope'), 'invalid_json');
    assert.equal(code('[1]'), 'invalid_event');
    assert.equal(code('{"event_id":"x"}'), 'missing_required_parameter');
  });
});

describe('session.update', () => {
  const base = defaultSettings(stt, true);

  it("defaults to 24 kHz PCM and OpenAI's server_vad, the default engine", () => {
    assert.equal(base.format, 'audio/pcm');
    assert.deepEqual(base.turnDetection, { type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 500 });
    assert.equal(base.choice.engine, 'sphinx');
  });

  it('changes only the fields given, and maps model names like /v1/audio/transcriptions', () => {
    const next = applyUpdate(
      base,
      { type: 'transcription', audio: { input: { transcription: { model: 'whisper-base.en', language: 'en' }, turn_detection: { type: 'server_vad', silence_duration_ms: 800 } } } },
      stt,
      false,
    );
    assert.deepEqual(next.choice, { engine: 'whisper', model: 'base.en' });
    assert.equal(next.language, 'en');
    assert.deepEqual(next.turnDetection, { type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 800 });
    assert.equal(applyUpdate(next, { audio: { input: { turn_detection: null } } }, stt, false).turnDetection, null);
  });

  it('refuses bad values with the parameter at fault', () => {
    const param = (session: unknown, locked = false) => {
      try {
        applyUpdate(base, session, stt, locked);
      } catch (error) {
        assert.ok(error instanceof InvalidSession);
        return error.param;
      }
      return null;
    };
    assert.equal(param({ type: 'realtime' }), 'session.type');
    assert.equal(param({ audio: { input: { format: { type: 'audio/opus' } } } }), 'session.audio.input.format.type');
    assert.equal(param({ audio: { input: { format: { type: 'audio/pcmu' } } } }, true), 'session.audio.input.format.type');
    assert.equal(param({ audio: { input: { transcription: { model: 'gpt-9' } } } }), 'session.audio.input.transcription.model');
    assert.equal(param({ audio: { input: { transcription: { language: 'english' } } } }), 'session.audio.input.transcription.language');
    assert.equal(param({ audio: { input: { turn_detection: { type: 'semantic_vad' } } } }), 'session.audio.input.turn_detection.type');
    assert.equal(param({ audio: { input: { noise_reduction: { type: 'loud' } } } }), 'session.audio.input.noise_reduction.type');
  });
});

describe('InputBuffer', () => {
  it('cuts a turn by session sample index and keeps what follows', () => {
    const buffer = new InputBuffer();
    buffer.append(Int16Array.from([0, 1, 2, 3]));
    buffer.append(Int16Array.from([4, 5, 6, 7]));
    buffer.dropBefore(2);
    const turn = buffer.take(1, 6);
    assert.deepEqual([turn.start, ...turn.samples], [2, 2, 3, 4, 5]);
    assert.deepEqual([buffer.end, buffer.size], [8, 2]);
    assert.deepEqual([...buffer.takeAll().samples], [6, 7]);
    assert.equal(buffer.empty, true);
  });
});
