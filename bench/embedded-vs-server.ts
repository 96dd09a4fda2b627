/**
 * The embedded default under load against the same build on a PostgreSQL server: the recordings
 * list (64 connections) and 200 concurrent 95 KB WAV uploads, in alternating rounds so noise
 * hits both alike. Goal: the embedded figures within 10% of the server's.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { median, register, startBuiltServer, writeResult, type BenchServer } from './lib.js';

const ROUNDS = 2;
const LIST_SECONDS = 8;
const UPLOADS = 200;
const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

interface CannonResult { requests: { total: number }; latency: { p99: number }; non2xx: number; errors: number; duration: number }
type Cannon = (opts: { url: string; connections: number; duration: number; headers: Record<string, string> }) => Promise<CannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Cannon;

const dir = mkdtempSync(path.join(tmpdir(), 'transcribo-bench-embedded-'));
const wav = path.join(dir, 'clip.wav');
execFileSync('ffmpeg', ['-nostdin', '-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=frequency=220:duration=3:sample_rate=16000', '-ac', '1', '-c:a', 'pcm_s16le', wav]);
const boundary = `----transcribo-bench-${process.pid}`;
const body = Buffer.concat([
  Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="clip.wav"\r\nContent-Type: audio/wav\r\n\r\n`),
  readFileSync(wav),
  Buffer.from(`\r\n--${boundary}--\r\n`),
]);

function upload(base: string, token: string, agent: http.Agent): Promise<{ ms: number; status: number }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const request = http.request(`${base}/api/v1/audio/upload`, {
      method: 'POST',
      agent,
      headers: { authorization: `Bearer ${token}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': body.length },
    }, (response) => {
      response.resume();
      response.on('end', () => resolve({ ms: performance.now() - started, status: response.statusCode ?? 0 }));
    });
    request.on('error', () => resolve({ ms: performance.now() - started, status: 0 }));
    request.end(body);
  });
}

const p99 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.ceil(values.length * 0.99) - 1] ?? NaN;

async function measure(server: BenchServer) {
  const token = await register(server.base);
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  for (let i = 0; i < 25; i++) {
    const res = await fetch(`${server.base}/api/v1/audio/upload`, { method: 'POST', headers: auth, body: JSON.stringify({ title: `r${i}`, original_text: 'Una frase.' }) });
    if (res.status !== 201) throw new Error(`seed: ${res.status}`);
  }
  const list = await autocannon({ url: `${server.base}/api/v1/audio/?limit=20`, connections: 64, duration: LIST_SECONDS, headers: { authorization: `Bearer ${token}` } });
  if (list.non2xx || list.errors) throw new Error(`list: ${list.non2xx} non-2xx, ${list.errors} errors`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: UPLOADS });
  const started = performance.now();
  const uploads = await Promise.all(Array.from({ length: UPLOADS }, () => upload(server.base, token, agent)));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  const failed = uploads.filter((u) => u.status !== 201).length;
  if (failed) throw new Error(`${failed} of ${UPLOADS} uploads failed`);
  return {
    list_req_per_s: Math.round(list.requests.total / list.duration),
    list_p99_ms: list.latency.p99,
    uploads_per_s: Math.round(UPLOADS / seconds),
    upload_p99_ms: Math.round(p99(uploads.map((u) => u.ms))),
  };
}

async function withDatabase<T>(work: (url: string) => Promise<T>): Promise<T> {
  const name = `bench_embedded_${process.pid}_${Date.now()}`;
  const psql = (sql: string) => execFileSync('psql', [ADMIN_URL, '-qc', sql], { stdio: 'ignore' });
  psql(`create database ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  try {
    return await work(url.toString());
  } finally {
    psql(`drop database if exists ${name} with (force)`);
  }
}

type Figures = Awaited<ReturnType<typeof measure>>;
const runs: Record<'embedded' | 'server', Figures[]> = { embedded: [], server: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of ['embedded', 'server'] as const) {
    const figures = await withDatabase(async (url) => {
      const server = await startBuiltServer(mode === 'server' ? { DATABASE_URL: url } : {});
      try {
        return await measure(server);
      } finally {
        await server.stop();
      }
    });
    console.error(mode, figures);
    runs[mode].push(figures);
  }
}
const summary = (mode: 'embedded' | 'server') => {
  const keys = Object.keys(runs[mode][0]!) as (keyof Figures)[];
  return Object.fromEntries(keys.map((k) => [k, median(runs[mode].map((r) => r[k]))])) as Figures;
};
const embedded = summary('embedded');
const server = summary('server');
writeResult('embedded-vs-server', {
  rounds: ROUNDS,
  embedded,
  server,
  ratio_embedded_to_server: {
    list_req_per_s: Number((embedded.list_req_per_s / server.list_req_per_s).toFixed(2)),
    uploads_per_s: Number((embedded.uploads_per_s / server.uploads_per_s).toFixed(2)),
  },
  runs,
});
