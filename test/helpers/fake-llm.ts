/** Fake OpenAI / Anthropic servers on 127.0.0.1 that record what the SDKs send them. */

import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The JSON fields either API's request may carry. */
export interface RequestBody {
  model?: string;
  messages?: Array<{ role: string; content: unknown }>;
  system?: unknown;
  max_tokens?: number;
  temperature?: number;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  response_format?: { type: string };
}

export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: RequestBody;
  /** Resolves when the connection under this request closes before the response was finished. */
  closedEarly: Promise<void>;
}

/** `index` counts requests from 0. */
export type Handler = (request: Received, res: ServerResponse, index: number) => void | Promise<void>;

export interface FakeServer {
  /** http://127.0.0.1:port — add /v1 for the OpenAI SDK, not for Anthropic's. */
  origin: string;
  requests: Received[];
  /** Resolves once `count` requests have arrived. */
  received(count: number): Promise<void>;
  close(): Promise<void>;
}

export async function fakeServer(handler: Handler): Promise<FakeServer> {
  const requests: Received[] = [];
  const waiters: Array<() => void> = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    let resolveClosed!: () => void;
    const closedEarly = new Promise<void>((resolve) => (resolveClosed = resolve));
    // `res` closes when the response ends or the connection goes; only the latter counts here.
    res.on('close', () => {
      if (!res.writableFinished) resolveClosed();
    });
    req.on('data', (chunk: Buffer) => parts.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(parts).toString('utf8');
      let body: RequestBody = {};
      try {
        body = (raw === '' ? {} : JSON.parse(raw)) as RequestBody;
      } catch {
        // Not JSON: the tests' checks of fields will fail on their own.
      }
      const received: Received = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, closedEarly };
      const index = requests.push(received) - 1;
      for (const waiter of waiters) waiter();
      Promise.resolve(handler(received, res, index)).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(599);
        res.end(String(error));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
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

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export function startSse(res: ServerResponse) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.flushHeaders();
}

/** One SSE event; `event` null writes a bare `data:` line (OpenAI's style). */
export function sse(res: ServerResponse, event: string | null, data: unknown) {
  const payload = typeof data === 'string' ? data : JSON.stringify(data);
  res.write(`${event ? `event: ${event}\n` : ''}data: ${payload}\n\n`);
}

/** Rejects if `promise` has not settled within `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export function signal(): AbortSignal {
  return new AbortController().signal;
}

/** Collects a whole stream. */
export async function collect<T>(events: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const event of events) out.push(event);
  return out;
}

/** An OpenAI-compatible provider that sends one token, then holds the answer open until hung up on. */
export function stallingLlm(): Promise<FakeServer> {
  return fakeServer((_request, res) => {
    startSse(res);
    sse(res, null, {
      id: 'c',
      object: 'chat.completion.chunk',
      created: 0,
      model: 'gpt-test',
      choices: [{ index: 0, delta: { role: 'assistant', content: 'Thinking' }, finish_reason: null }],
    });
  });
}
