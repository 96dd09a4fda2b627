/**
 * 200 concurrent multipart uploads of a ~95 KB WAV (3 s, 16 kHz mono) against the built server on a
 * fresh PostgreSQL database: uploads per second, p50/p99 latency, and the most ffmpeg processes the
 * server ran at once (its children, sampled every ~20 ms from /proc).
 * Goal: ≥ 100 uploads/s, p99 ≤ 3 s, decoder processes bounded by the core count.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { resolveFfmpeg } from '../src/audio/ffmpeg.js';
import { median, register, startBuiltServer, writeResult, type BenchServer } from './lib.js';

const CONCURRENT = 200;
const ROUNDS = 3;
const SAMPLE_MS = 20;
/** A request silent this long is abandoned and counted as failed, so a pathological run still ends. */
const ROUND_TIMEOUT_MS = 180_000;

const dir = mkdtempSync(path.join(tmpdir(), 'transcribo-bench-concurrency-'));
const wav = path.join(dir, 'clip.wav');
// The bundled ffmpeg when none is on PATH, like the server itself.
const ffmpeg = await resolveFfmpeg(null);
execFileSync(ffmpeg, ['-nostdin', '-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=3:sample_rate=16000', '-ac', '1', '-c:a', 'pcm_s16le', wav]);
const wavBytes = readFileSync(wav);

const database = `bench_upload_${process.pid}_${Date.now()}`;
const psql = (sql: string) => execFileSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'test', '-qc', sql], { stdio: 'ignore' });

/**
 * ffmpeg processes among the server's children: `running` leaves out zombies (exited, not yet
 * reaped by a busy event loop), `existing` counts them too, as `pgrep -c ffmpeg` would.
 */
function ffmpegChildren(pid: number): { running: number; existing: number } {
  const count = { running: 0, existing: 0 };
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return count;
  }
  for (const task of tasks) {
    let children: string[];
    try {
      children = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    } catch {
      continue;
    }
    for (const child of children) {
      try {
        const stat = readFileSync(`/proc/${child}/stat`, 'utf8');
        const match = /^\d+ \((.*)\) (\S)/.exec(stat);
        if (!match?.[1]!.includes('ffmpeg')) continue;
        count.existing++;
        if (match[2] !== 'Z') count.running++;
      } catch {
        // exited meanwhile
      }
    }
  }
  return count;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * One upload over a keep-alive node:http agent, with the multipart body built once: undici's
 * FormData costs the client as much CPU as the server spends, and both share this machine's cores.
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENT });
const boundary = `----transcribo-bench-${process.pid}`;
const body = Buffer.concat([
  Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="clip.wav"\r\nContent-Type: audio/wav\r\n\r\n`),
  wavBytes,
  Buffer.from(`\r\n--${boundary}--\r\n`),
]);

function upload(base: string, token: string): Promise<{ ms: number; status: number; body: string }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const request = http.request(
      `${base}/api/v1/audio/upload`,
      {
        method: 'POST',
        agent,
        timeout: ROUND_TIMEOUT_MS,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': `multipart/form-data; boundary=${boundary}`,
          'content-length': body.length,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ ms: performance.now() - started, status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
        );
      },
    );
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', (error) => resolve({ ms: performance.now() - started, status: 0, body: String(error) }));
    request.end(body);
  });
}

psql(`create database ${database}`);
let server: BenchServer | undefined;
try {
  server = await startBuiltServer({
    DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${database}`,
    DATABASE_POOL_SIZE: '10',
  });
  const { base } = server;
  const pid = server.proc.pid!;
  const token = await register(base);
  // Warm-up: JIT, the connection pool, ffmpeg's location.
  for (let i = 0; i < 5; i++) await upload(base, token);

  const rounds: { uploads_per_s: number; [figure: string]: number }[] = [];
  const latencies: number[] = [];
  const failures: string[] = [];
  const peak = { running: 0, existing: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    const roundPeak = { running: 0, existing: 0 };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const now = ffmpegChildren(pid);
        roundPeak.running = Math.max(roundPeak.running, now.running);
        roundPeak.existing = Math.max(roundPeak.existing, now.existing);
        await sleep(SAMPLE_MS);
      }
    })();
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: CONCURRENT }, () => upload(base, token)),
    );
    const seconds = (performance.now() - started) / 1000;
    sampling = false;
    await sampler;
    const ok = results.filter((r) => r.status === 201);
    for (const r of results) if (r.status !== 201) failures.push(`${r.status} ${r.body.slice(0, 200)}`);
    const ms = results.map((r) => r.ms);
    latencies.push(...ms);
    peak.running = Math.max(peak.running, roundPeak.running);
    peak.existing = Math.max(peak.existing, roundPeak.existing);
    rounds.push({
      uploads_per_s: Number((ok.length / seconds).toFixed(1)),
      seconds: Number(seconds.toFixed(2)),
      p50_ms: Math.round(percentile(ms, 50)),
      p99_ms: Math.round(percentile(ms, 99)),
      peak_running_ffmpeg: roundPeak.running,
      peak_ffmpeg_processes: roundPeak.existing,
      failures: results.length - ok.length,
    });
    console.error(`round ${round + 1}: ${JSON.stringify(rounds.at(-1))}`);
  }
  writeResult('upload-concurrency', {
    concurrent_uploads: CONCURRENT,
    rounds: ROUNDS,
    file_kb: Number((statSync(wav).size / 1000).toFixed(1)),
    uploads_per_s: median(rounds.map((r) => r.uploads_per_s)),
    p50_ms: Math.round(percentile(latencies, 50)),
    p99_ms: Math.round(percentile(latencies, 99)),
    peak_running_ffmpeg: peak.running,
    peak_ffmpeg_processes_incl_zombies: peak.existing,
    available_parallelism: availableParallelism(),
    failures: failures.length,
    first_failures: failures.slice(0, 3),
    per_round: rounds,
    goal_uploads_per_s: 100,
    goal_p99_ms: 3000,
  });
} finally {
  agent.destroy();
  await server?.stop();
  // Dropped even when the server never came up; with force, as a pool may still hold connections.
  try {
    psql(`drop database if exists ${database} with (force)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
