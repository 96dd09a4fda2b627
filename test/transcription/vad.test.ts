import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import type { App } from '../../src/app.js';
import type { EngineResult, PcmAudio, TranscribeOptions, TranscriptionEngine } from '../../src/transcription/engines/engine.js';
import { engineSet } from '../../src/transcription/engines/index.js';
import { SphinxEngine } from '../../src/transcription/engines/sphinx.js';
import { describeEachDatabase } from '../helpers/app.js';
import { librivoxClips } from '../helpers/audio.js';
import { testConfig } from '../helpers/config.js';
import { bearer, registerUser, uploadClip, type TestUser } from '../helpers/factory.js';

/** The real sphinx engine, noting how much audio each run was given and how long it took. */
class MeasuredEngine implements TranscriptionEngine {
  readonly name = 'sphinx' as const;
  readonly runs: { audioSeconds: number; engineSeconds: number }[] = [];
  private readonly inner = new SphinxEngine(testConfig().stt.sphinx);

  async transcribe(audio: PcmAudio, options: TranscribeOptions): Promise<EngineResult> {
    const started = performance.now();
    const result = await this.inner.transcribe(audio, options);
    this.runs.push({ audioSeconds: audio.durationSeconds, engineSeconds: (performance.now() - started) / 1000 });
    return result;
  }
}

const engine = new MeasuredEngine();
const scratch = mkdtempSync(path.join(tmpdir(), 'transcribo-vad-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function sox(...args: string[]): string {
  const out = path.join(scratch, `${Math.random().toString(36).slice(2)}.wav`);
  execFileSync('sox', [...args.map((a) => (a === 'OUT' ? out : a))]);
  return out;
}

interface Transcript {
  status: string;
  text: string;
  duration_seconds: number;
  vad: unknown;
  segments: { start: number; end: number; text: string; words: { start: number; end: number }[] | null }[];
}

async function transcribe(app: App, user: TestUser, id: string, body: Record<string, unknown>): Promise<Transcript> {
  const res = await app.inject({
    method: 'POST',
    url: `/api/v1/audio/${id}/transcribe?wait=120`,
    headers: bearer(user.accessToken),
    payload: { engine: 'sphinx', ...body },
  });
  assert.equal(res.statusCode, 200, res.body);
  const t = res.json<Transcript>();
  assert.equal(t.status, 'completed', res.body);
  return t;
}

describeEachDatabase(
  'batch transcription with voice activity detection',
  (ctx) => {
    test('vad: true on a clip padded with 20 s of silence at both ends: same text, same times + 20 s, less audio for the engine', async (t) => {
      const { app } = ctx();
      const user = await registerUser(app);
      const clip = librivoxClips().find((c) => c.id.endsWith('0880'))!;
      const padded = sox(clip.wavPath, 'OUT', 'pad', '20', '20');

      const plain = await transcribe(app, user, await uploadClip(app, user, clip.wavPath), { word_timestamps: true });
      const plainRun = engine.runs.at(-1)!;
      const cut = await transcribe(app, user, await uploadClip(app, user, padded), { word_timestamps: true, vad: true });
      const cutRun = engine.runs.at(-1)!;

      assert.equal(cut.text, plain.text);
      assert.ok(plain.segments.length > 0);
      assert.equal(cut.segments.length, plain.segments.length, JSON.stringify({ plain: plain.segments, cut: cut.segments }));
      for (const [i, segment] of cut.segments.entries()) {
        const before = plain.segments[i]!;
        assert.ok(Math.abs(segment.start - (before.start + 20)) <= 0.3, JSON.stringify({ segment, before }));
        assert.ok(Math.abs(segment.end - (before.end + 20)) <= 0.3, JSON.stringify({ segment, before }));
        for (const [j, word] of (segment.words ?? []).entries()) {
          const was = before.words?.[j];
          if (was) assert.ok(Math.abs(word.start - (was.start + 20)) <= 0.3, JSON.stringify({ word, was }));
        }
      }
      assert.deepEqual(cut.vad, { threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 500 });
      assert.equal(plain.vad, null);
      // The transcription keeps the original's length; the engine heard only the speech and its padding.
      assert.ok(Math.abs(cut.duration_seconds - 42.99) < 0.1, String(cut.duration_seconds));
      assert.ok(cutRun.audioSeconds < plainRun.audioSeconds + 1, JSON.stringify({ cutRun, plainRun }));
      assert.ok(cutRun.audioSeconds < 42.99 / 4, JSON.stringify(cutRun));
      t.diagnostic(`engine: unpadded ${JSON.stringify(plainRun)}, padded with vad ${JSON.stringify(cutRun)}`);
    });

    test('audio with no speech completes with no segments, and the engine never runs', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const quiet = sox('-n', '-r', '16000', '-c', '1', '-b', '16', 'OUT', 'synth', '4', 'whitenoise', 'vol', '0.003');
      const runs = engine.runs.length;
      const t = await transcribe(app, user, await uploadClip(app, user, quiet), { vad: { threshold: 0.6, silence_duration_ms: 800 } });
      assert.deepEqual(t.segments, []);
      assert.equal(t.text, '');
      assert.ok(Math.abs(t.duration_seconds - 4) < 0.05);
      assert.deepEqual(t.vad, { threshold: 0.6, prefix_padding_ms: 300, silence_duration_ms: 800 });
      assert.equal(engine.runs.length, runs);
    });

    test('out-of-range vad settings are a 422, not a job', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const id = await uploadClip(app, user, librivoxClips()[1]!.wavPath);
      for (const vad of [{ threshold: 1.5 }, { silence_duration_ms: -1 }, 'yes']) {
        const res = await app.inject({ method: 'POST', url: `/api/v1/audio/${id}/transcribe`, headers: bearer(user.accessToken), payload: { vad } });
        assert.equal(res.statusCode, 422, `${JSON.stringify(vad)}: ${res.body}`);
      }
    });
  },
  {},
  { startQueue: true, overrides: { engines: engineSet('sphinx', { sphinx: engine }) } },
);
