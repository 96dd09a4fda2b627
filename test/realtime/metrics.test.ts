import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metrics } from '../../src/metrics/metrics.js';
import { valueOf } from '../metrics/support.js';

test('realtime metrics: open sockets as a gauge, turns by engine; no other labels', async () => {
  const metrics = new Metrics();
  metrics.realtimeSessions(1);
  metrics.realtimeSessions(1);
  metrics.realtimeSessions(-1);
  metrics.realtimeTurn('sphinx');
  metrics.realtimeTurn('sphinx');
  metrics.realtimeTurn('whisper');
  const text = await metrics.scrape();
  assert.equal(valueOf(text, 'transcribo_realtime_sessions_active'), 1);
  assert.equal(valueOf(text, 'transcribo_realtime_turns_total', { engine: 'sphinx' }), 2);
  assert.equal(valueOf(text, 'transcribo_realtime_turns_total', { engine: 'whisper' }), 1);
});
