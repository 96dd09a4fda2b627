import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import assert from 'node:assert/strict';

/** A server event as the client received it. */
export type Received = { type: string; event_id: string } & Record<string, unknown>;

/** Any audio file as raw PCM at `rate` (s16le mono), through ffmpeg; default OpenAI's 24 kHz. */
export function rawPcm(input: string, rate = 24_000, format: 's16le' | 'mulaw' | 'alaw' = 's16le'): Buffer {
  return execFileSync('ffmpeg', ['-v', 'error', '-i', input, '-ac', '1', '-ar', String(rate), '-f', format, '-'], {
    maxBuffer: 256 << 20,
  });
}

export function silence(seconds: number, rate = 24_000): Buffer {
  return Buffer.alloc(Math.round(seconds * rate) * 2);
}

/** An official-client realtime socket that trusts `ca` and records every event it receives. */
export class RealtimeClient {
  readonly events: Received[] = [];
  /** performance.now() at each event's arrival, index for index with `events`. */
  readonly arrivals: number[] = [];
  closed: { code: number; reason: string } | null = null;
  readonly rt: OpenAIRealtimeWS;

  private constructor(rt: OpenAIRealtimeWS) {
    this.rt = rt;
    rt.on('event', (event) => {
      this.events.push(event as unknown as Received);
      this.arrivals.push(performance.now());
    });
    // Error events are kept in `events`; the emitter would otherwise raise them as rejections.
    rt.on('error', () => undefined);
    rt.socket.on('close', (code: number, reason: Buffer) => (this.closed = { code, reason: reason.toString() }));
  }

  static async open(port: number, token: string, ca: string, query = ''): Promise<RealtimeClient> {
    const client = new OpenAI({ apiKey: token, baseURL: `https://127.0.0.1:${port}/v1` });
    // The SDK requires a model in the URL; a conversation model name is ignored by the server.
    const rt = new OpenAIRealtimeWS({ model: `gpt-realtime${query ? `&${query}` : ''}`, options: { ca } }, client);
    const opened = new RealtimeClient(rt);
    await new Promise<void>((resolve, reject) => {
      rt.socket.once('open', () => resolve());
      rt.socket.once('error', reject);
      rt.socket.once('unexpected-response', (_req: unknown, res: { statusCode: number }) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    return opened;
  }

  of(type: string): Received[] {
    return this.events.filter((e) => e.type === type);
  }

  async waitFor(what: string, predicate: (events: Received[]) => boolean, ms = 60_000): Promise<void> {
    await waitUntil(what, () => predicate(this.events) || null, ms);
  }

  append(pcm: Buffer): void {
    this.rt.send({ type: 'input_audio_buffer.append', audio: pcm.toString('base64') });
  }

  /** Sends `pcm` in 100 ms chunks, at real-time pace when `realtime`, else as fast as it goes. */
  async stream(pcm: Buffer, { realtime, bytesPerSecond = 48_000 }: { realtime: boolean; bytesPerSecond?: number }): Promise<void> {
    const chunk = bytesPerSecond / 10;
    const started = performance.now();
    for (let at = 0; at < pcm.length; at += chunk) {
      this.append(pcm.subarray(at, at + chunk));
      if (realtime) {
        const due = ((at + chunk) / bytesPerSecond) * 1000 - (performance.now() - started);
        if (due > 0) await sleep(due);
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.rt.close({ code: 1000, reason: 'done' });
    await waitUntil('socket closed', () => this.closed, 30_000);
  }
}

/** Word error rate in percent: word-level edit distance over the reference's length (case and punctuation ignored). */
export function wer(reference: string, hypothesis: string): number {
  const words = (text: string) => text.toLowerCase().replace(/[^a-z0-9' ]+/g, ' ').split(/\s+/).filter(Boolean);
  const ref = words(reference);
  const hyp = words(hypothesis);
  let previous = Array.from({ length: hyp.length + 1 }, (_, j) => j);
  for (let i = 1; i <= ref.length; i++) {
    const current = [i];
    for (let j = 1; j <= hyp.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (ref[i - 1] === hyp[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return ref.length === 0 ? 0 : (100 * previous[hyp.length]!) / ref.length;
}

/** Polls `probe` until it returns something truthy (as server-process.ts's, without its node:test hooks, so benchmarks can use this file). */
async function waitUntil<T>(what: string, probe: () => T, ms: number): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}
