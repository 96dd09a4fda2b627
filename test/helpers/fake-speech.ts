/**
 * A fake OpenAI-compatible speech server on 127.0.0.1 that parses each multipart upload, so tests
 * can check which fields the openai engine (through the official SDK) really sent.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SpeechRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** Every text field with all its values, in the order sent (`known_speaker_names[]` repeats). */
  fields: Map<string, string[]>;
  file: { name: string; type: string; bytes: Buffer } | null;
}

export type SpeechHandler = (request: SpeechRequest, res: ServerResponse, index: number) => void | Promise<void>;

export interface FakeSpeech {
  /** http://127.0.0.1:port/v1, as STT_BASE_URL takes it. */
  baseUrl: string;
  requests: SpeechRequest[];
  /** Resolves once `count` requests have arrived. */
  received(count: number): Promise<void>;
  close(): Promise<void>;
}

export async function fakeSpeech(handler: SpeechHandler): Promise<FakeSpeech> {
  const requests: SpeechRequest[] = [];
  const waiters: Array<() => void> = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (chunk: Buffer) => parts.push(chunk));
    req.on('end', () => {
      void (async () => {
        const fields = new Map<string, string[]>();
        let file: SpeechRequest['file'] = null;
        const contentType = req.headers['content-type'] ?? '';
        if (contentType.startsWith('multipart/form-data')) {
          const form = await new Request('http://fake', { method: 'POST', headers: { 'content-type': contentType }, body: Buffer.concat(parts) }).formData();
          for (const [key, value] of form.entries()) {
            if (typeof value === 'string') fields.set(key, [...(fields.get(key) ?? []), value]);
            else file = { name: value.name, type: value.type, bytes: Buffer.from(await value.arrayBuffer()) };
          }
        }
        const index = requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, fields, file }) - 1;
        for (const waiter of waiters) waiter();
        await handler(requests[index]!, res, index);
      })().catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(599);
        res.end(String(error));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    received(count) {
      return new Promise<void>((resolve) => {
        const check = () => {
          if (requests.length >= count) resolve();
        };
        waiters.push(check);
        check();
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** OpenAI's diarized_json body for `segments` (times relative to the upload). */
export function diarizedBody(segments: Array<{ start: number; end: number; text: string; speaker: string }>, duration: number) {
  return {
    task: 'transcribe',
    duration,
    text: segments.map((s) => s.text).join(' '),
    segments: segments.map((s, i) => ({ type: 'transcript.text.segment', id: `seg_${i}`, ...s })),
    usage: { type: 'duration', seconds: duration },
  };
}
