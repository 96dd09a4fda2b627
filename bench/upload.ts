/**
 * 100 MB upload through the API (multipart, sniffed, hashed, decoded once, stored) against `dd`
 * writing the same amount to the same disk, and the server's peak memory growth while it runs.
 * Goal: memory growth ≤ 64 MB (the file is streamed, never held whole).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, openAsBlob, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { median, memoryOf, register, resetPeak, startBuiltServer, writeResult } from './lib.js';

const SIZE_MB = 100;
const RUNS = 3;

const dir = mkdtempSync(path.join(tmpdir(), 'transcribo-bench-upload-'));
const wav = path.join(dir, 'big.wav');
// 100 MB of 16 kHz mono 16-bit audio is ~55 minutes: a low tone, so it really decodes as audio.
const seconds = Math.round((SIZE_MB * 1_000_000) / 32_000);
execFileSync('ffmpeg', ['-nostdin', '-loglevel', 'error', '-f', 'lavfi', '-i', `sine=frequency=220:duration=${seconds}:sample_rate=16000`, '-ac', '1', '-c:a', 'pcm_s16le', wav]);
const bytes = statSync(wav).size;

function ddSeconds(): number {
  const target = path.join(dir, 'dd.bin');
  const started = performance.now();
  execFileSync('dd', ['if=/dev/zero', `of=${target}`, 'bs=1M', `count=${SIZE_MB}`, 'conv=fdatasync'], { stdio: 'ignore' });
  const elapsed = (performance.now() - started) / 1000;
  rmSync(target);
  return elapsed;
}

const server = await startBuiltServer({ MAX_FILE_SIZE: String(200 * 1024 * 1024) });
try {
  const token = await register(server.base);
  const apiSeconds: number[] = [];
  const growth: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    resetPeak(server.proc.pid!);
    const before = memoryOf(server.proc.pid!);
    const form = new FormData();
    form.append('file', await openAsBlob(wav), 'big.wav');
    const started = performance.now();
    const res = await fetch(`${server.base}/api/v1/audio/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: form,
    });
    if (res.status !== 201) throw new Error(`upload: ${res.status} ${await res.text()}`);
    apiSeconds.push((performance.now() - started) / 1000);
    const after = memoryOf(server.proc.pid!);
    growth.push(after.peak - before.rss);
    console.error(`run ${i + 1}: rss before ${(before.rss / 2 ** 20).toFixed(1)} MB, peak ${(after.peak / 2 ** 20).toFixed(1)} MB, rss after ${(after.rss / 2 ** 20).toFixed(1)} MB`);
  }
  const ddRuns = Array.from({ length: RUNS }, ddSeconds);
  const mb = bytes / 1e6;
  writeResult('upload', {
    file_mb: Number(mb.toFixed(1)),
    api_mb_per_s: Number((mb / median(apiSeconds)).toFixed(1)),
    dd_mb_per_s: Number((mb / median(ddRuns)).toFixed(1)),
    api_seconds: apiSeconds.map((s) => Number(s.toFixed(2))),
    dd_seconds: ddRuns.map((s) => Number(s.toFixed(2))),
    peak_rss_growth_mb: Number((Math.max(...growth) / 2 ** 20).toFixed(1)),
    goal_peak_rss_growth_mb: 64,
  });
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
