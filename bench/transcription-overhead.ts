/**
 * What the API adds around the engine: a transcription through the API (job pickup, blob fetch,
 * ffmpeg decode, pocketsphinx, segment writes) divided by pocketsphinx_continuous alone on the
 * same clip. Goal ≤ 1.10.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { median, register, startBuiltServer, writeResult } from './lib.js';

const RUNS = 3;
const LIBRIVOX = '/usr/share/pocketsphinx/test/data/librivox';
const dir = mkdtempSync(path.join(tmpdir(), 'transcribo-bench-stt-'));
const clip = path.join(dir, 'joined.wav');
const clips = readFileSync(path.join(LIBRIVOX, 'fileids'), 'utf8').trim().split('\n').map((id) => path.join(LIBRIVOX, `${id}.wav`));
execFileSync('sox', [...clips, clip]);

function engineAlone(): number {
  const started = performance.now();
  execFileSync('pocketsphinx_continuous', ['-infile', clip, '-time', 'yes', '-logfn', '/dev/null'], { stdio: 'ignore' });
  return (performance.now() - started) / 1000;
}

const server = await startBuiltServer({ STT_ENGINE: 'sphinx' });
try {
  const token = await register(server.base);
  const auth = { authorization: `Bearer ${token}` };
  const form = new FormData();
  form.append('file', new Blob([readFileSync(clip)]), 'joined.wav');
  const upload = await fetch(`${server.base}/api/v1/audio/upload`, { method: 'POST', headers: auth, body: form });
  if (upload.status !== 201) throw new Error(`upload: ${upload.status}`);
  const { id, duration_seconds } = (await upload.json()) as { id: string; duration_seconds: number };

  const api: number[] = [];
  const alone: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    alone.push(engineAlone());
    const started = performance.now();
    const res = await fetch(`${server.base}/api/v1/audio/${id}/transcribe?wait=300`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ engine: 'sphinx' }),
    });
    const body = (await res.json()) as { status: string };
    if (res.status !== 200 || body.status !== 'completed') throw new Error(`transcribe: ${res.status} ${JSON.stringify(body)}`);
    api.push((performance.now() - started) / 1000);
  }
  writeResult('transcription-overhead', {
    audio_seconds: Number(duration_seconds.toFixed(1)),
    engine_alone_seconds: alone.map((s) => Number(s.toFixed(2))),
    api_seconds: api.map((s) => Number(s.toFixed(2))),
    ratio: Number((median(api) / median(alone)).toFixed(3)),
    goal_ratio: 1.1,
  });
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
