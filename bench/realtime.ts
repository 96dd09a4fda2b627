/**
 * Live transcription (GET /v1/realtime, sphinx, server VAD with OpenAI's defaults), through the
 * official client over WSS on the built server:
 * - latency from the end of speech (the last audio frame of an utterance: the end of its LibriVox
 *   clip) to that utterance's `completed` event, p50/p95, next to the engine's own time on the
 *   same clip; goal ≤ engine time + 300 ms. The VAD must first hear `silence_duration_ms` (500 ms
 *   by default) of silence, so that wait is part of the figure.
 * - how many sessions streaming at real-time pace one process sustains without falling behind
 *   (no `transcription_backlog`, and no utterance waiting more than twice the single session's
 *   p95), adding one session per round until one fails. Server, database and client share the
 *   machine's cores.
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../src/config.js';
import { SphinxEngine } from '../src/transcription/engines/sphinx.js';
import { RealtimeClient, rawPcm, silence } from '../test/helpers/realtime.js';
import { makeSelfSignedCert } from '../test/helpers/tls.js';
import { median, startBuiltServer, writeResult } from './lib.js';

const LIBRIVOX = '/usr/share/pocketsphinx/test/data/librivox';
const ids = readFileSync(path.join(LIBRIVOX, 'fileids'), 'utf8').trim().split('\n');
const GAP_SECONDS = 1.2;
/** A round falls behind when an utterance waits longer than this many times the single session's p95. */
const BEHIND_FACTOR = 2;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const cert = makeSelfSignedCert();

function post(url: string, body: object): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'POST', ca: cert.cert, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => resolve(JSON.parse(text) as Record<string, unknown>));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

interface Utterance {
  pcm: Buffer;
  seconds: number;
  wavPath: string;
}

const utterances: Utterance[] = ids.map((id) => {
  const wavPath = path.join(LIBRIVOX, `${id}.wav`);
  const pcm = rawPcm(wavPath);
  return { wavPath, pcm, seconds: pcm.length / 48_000 };
});

/** Streams every utterance with a pause after each at real-time pace; per utterance, end of speech → completed, in seconds. */
async function session(port: number, token: string): Promise<{ latencies: number[]; behind: boolean }> {
  const client = await RealtimeClient.open(port, token, cert.cert);
  client.rt.send({ type: 'session.update', session: { type: 'transcription', audio: { input: { transcription: { model: 'sphinx', language: 'en' } } } } });
  const ends: number[] = [];
  const spans: { start: number; end: number }[] = [];
  let at = 0;
  for (const u of utterances) {
    spans.push({ start: at, end: at + u.seconds });
    await client.stream(u.pcm, { realtime: true });
    ends.push(performance.now());
    await client.stream(silence(GAP_SECONDS), { realtime: true });
    at += u.seconds + GAP_SECONDS;
  }
  const deadline = performance.now() + 60_000;
  const stopped = () => client.of('input_audio_buffer.speech_stopped');
  while (performance.now() < deadline) {
    const done = client.of('conversation.item.input_audio_transcription.completed').length;
    if (done >= client.of('input_audio_buffer.committed').length && done > 0) break;
    await sleep(20);
  }
  const received = new Map<string, number>();
  client.events.forEach((e, i) => {
    if (e.type === 'conversation.item.input_audio_transcription.completed') received.set(e.item_id as string, client.arrivals[i]!);
  });
  const latencies = spans.map((span, i) => {
    // The utterance's last turn: the one whose speech stopped last within its clip.
    const mine = stopped().filter((e) => (e.audio_end_ms as number) / 1000 <= span.end + 0.3 && (e.audio_end_ms as number) / 1000 >= span.start);
    const last = mine.at(-1);
    const arrival = last ? received.get(last.item_id as string) : undefined;
    return arrival === undefined ? Infinity : (arrival - ends[i]!) / 1000;
  });
  const behind = client.of('error').some((e) => (e.error as { code: string }).code === 'transcription_backlog');
  await client.close();
  return { latencies, behind };
}

const config = loadConfig({ SECRET_KEY: 'k'.repeat(40), STT_ENGINE: 'sphinx' }, { persistSecret: false });
const engine = new SphinxEngine(config.stt.sphinx);
const engineSeconds: number[] = [];
for (const u of utterances) {
  const started = performance.now();
  await engine.transcribe({ wavPath: u.wavPath, durationSeconds: u.seconds }, { language: 'en', wordTimestamps: false, signal: AbortSignal.timeout(60_000) });
  engineSeconds.push((performance.now() - started) / 1000);
}

const server = await startBuiltServer(
  { STT_ENGINE: 'sphinx', TLS_CERT_FILE: cert.certFile, TLS_KEY_FILE: cert.keyFile, REALTIME_MAX_SESSIONS_PER_USER: '1000' },
  { ca: cert.cert },
);
const port = Number(new URL(server.base).port);
try {
  const { base } = server;
  const { access_token: token } = (await post(`${base}/api/v1/auth/register`, { email: `bench-${Date.now()}@example.com`, password: 'benchmark password' })) as { access_token: string };
  const latency: number[] = [];
  // Two single sessions, so the latency sample is 2 × 5 utterances.
  for (let i = 0; i < 2; i++) latency.push(...(await session(port, token)).latencies);
  const over = latency.map((l, i) => l - engineSeconds[i % engineSeconds.length]!);

  const rounds: { sessions: number; behind: boolean; p95_latency_s: number; max_latency_s: number }[] = [];
  const bound = BEHIND_FACTOR * percentile(latency, 95);
  for (let n = 2; n <= 8; n++) {
    const results = await Promise.all(Array.from({ length: n }, () => session(port, token)));
    const all = results.flatMap((r) => r.latencies);
    const p95 = percentile(all, 95);
    const behind = results.some((r) => r.behind) || Math.max(...all) > bound;
    rounds.push({ sessions: n, behind, p95_latency_s: Number(p95.toFixed(2)), max_latency_s: Number(Math.max(...all).toFixed(2)) });
    console.log(rounds.at(-1));
    if (behind) break;
  }
  const sustained = Math.max(1, ...rounds.filter((r) => !r.behind).map((r) => r.sessions));
  writeResult('realtime', {
    utterances: latency.length,
    end_of_speech_to_completed_s: { p50: Number(percentile(latency, 50).toFixed(3)), p95: Number(percentile(latency, 95).toFixed(3)) },
    engine_alone_s: { median: Number(median(engineSeconds).toFixed(3)), per_clip: engineSeconds.map((s) => Number(s.toFixed(3))) },
    latency_minus_engine_s: { p50: Number(percentile(over, 50).toFixed(3)), p95: Number(percentile(over, 95).toFixed(3)) },
    goal_latency_minus_engine_s: 0.3,
    concurrent_rounds: rounds,
    sustained_sessions: sustained,
    behind_means: `a transcription_backlog event, or an utterance's end-of-speech → completed over ${BEHIND_FACTOR} × the single session's p95`,
  });
} finally {
  await server.stop();
}
