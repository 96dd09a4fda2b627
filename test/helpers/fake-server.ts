/**
 * What every fake upstream service shares (fake-llm.ts's chat APIs, fake-speech.ts's transcription
 * API): a server on 127.0.0.1 that reads each request whole, records it, and lets the test answer.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What is recorded of every request, whatever its body. */
export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** Resolves when the connection under this request closes before the response was finished. */
  closedEarly: Promise<void>;
}

/** Turns a whole request body into the fields a fake records beside `RecordedRequest`'s. */
export type BodyReader<B> = (raw: Buffer, req: IncomingMessage) => B | Promise<B>;

/** `index` counts requests from 0. */
export type RequestHandler<R> = (request: R, res: ServerResponse, index: number) => void | Promise<void>;

export interface RecordingServer<R> {
  /** http://127.0.0.1:port */
  origin: string;
  requests: R[];
  /** Resolves once `count` requests have arrived. */
  received(count: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts the server; a handler that throws answers 599 with the error, so the test sees it. */
export async function recordingServer<B extends object>(
  readBody: BodyReader<B>,
  handler: RequestHandler<RecordedRequest & B>,
): Promise<RecordingServer<RecordedRequest & B>> {
  const requests: Array<RecordedRequest & B> = [];
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
      void (async () => {
        const body = await readBody(Buffer.concat(parts), req);
        const request = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, closedEarly, ...body };
        const index = requests.push(request) - 1;
        for (const waiter of waiters) waiter();
        await handler(request, res, index);
      })().catch((error: unknown) => {
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
