/**
 * Liveness latency while JSON text uploads of many short sentences are processed, against the
 * same probe on the idle server in the same run. Goal: no probe waits 100 ms or more (the event
 * loop is never held that long), up to MAX_FILE_SIZE (10 MB).
 */
import { register, startBuiltServer, writeResult } from './lib.js';

const PROBE_EVERY_MS = 10;
const IDLE_MS = 3_000;
const SENTENCE = 'Word word word. ';
/** Repetitions of SENTENCE: the old quadratic case (512 KB), 4 MB and just under 10 MB of JSON. */
const SIZES = [32_768, 262_144, 650_000];

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Probes liveness one request at a time until `until` settles; returns each latency in ms. */
async function probeWhile(base: string, until: Promise<unknown>): Promise<number[]> {
  let done = false;
  void until.finally(() => (done = true));
  const latencies: number[] = [];
  while (!done) {
    const started = performance.now();
    await (await fetch(`${base}/api/v1/health/liveness`)).arrayBuffer();
    latencies.push(performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, PROBE_EVERY_MS));
  }
  return latencies;
}

function summary(latencies: number[]) {
  const round = (n: number) => Number(n.toFixed(1));
  return {
    probes: latencies.length,
    p50_ms: round(percentile(latencies, 50)),
    p99_ms: round(percentile(latencies, 99)),
    max_ms: round(Math.max(...latencies)),
  };
}

const server = await startBuiltServer({});
try {
  const token = await register(server.base);
  const idle = summary(await probeWhile(server.base, new Promise((resolve) => setTimeout(resolve, IDLE_MS))));
  console.error('idle', idle);
  const uploads: Record<string, unknown>[] = [];
  for (const repeats of SIZES) {
    const body = JSON.stringify({ title: 'Long text', original_text: SENTENCE.repeat(repeats) });
    const started = performance.now();
    const upload = fetch(`${server.base}/api/v1/audio/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body,
    }).then(async (res) => {
      await res.arrayBuffer();
      if (res.status !== 201) throw new Error(`upload of ${body.length} bytes: ${res.status}`);
    });
    const latencies = await probeWhile(server.base, upload.catch(() => undefined));
    await upload;
    const result = { body_mb: Number((body.length / 2 ** 20).toFixed(2)), sentences: repeats, upload_s: Number(((performance.now() - started) / 1000).toFixed(2)), ...summary(latencies) };
    console.error(result);
    uploads.push(result);
  }
  writeResult('text-upload-liveness', { idle, uploads });
} finally {
  await server.stop();
}
