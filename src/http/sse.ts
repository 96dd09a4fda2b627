import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from './errors.js';

interface OpenStreams {
  /** Fires when the app starts closing. */
  closing: AbortSignal;
  /** The work behind each open stream, until it returns. */
  writers: Set<Promise<void>>;
}

declare module 'fastify' {
  interface FastifyInstance {
    eventStreams: OpenStreams;
  }
}

/**
 * An event stream lasts as long as its client listens, so a closing server would wait for it
 * until SHUTDOWN_TIMEOUT_MS ran out and then exit 1. Streams end instead as soon as closing
 * begins (preClose, before the server waits for in-flight requests), each with an `error` event
 * saying why: a job's events resume elsewhere with Last-Event-ID, an answer can be asked again.
 * The app's close then waits for the work behind them, which may still write to the database.
 */
export function registerEventStreams(app: FastifyInstance): void {
  const closing = new AbortController();
  const streams: OpenStreams = { closing: closing.signal, writers: new Set() };
  app.decorate('eventStreams', streams);
  app.addHook('preClose', async () => {
    closing.abort(new AppError('service_unavailable', 'The server is shutting down; reconnect or try again shortly'));
  });
  app.addHook('onClose', async () => {
    await Promise.all(streams.writers);
  });
}

/** True when the client asked for server-sent events, by body flag or by Accept header. */
export function wantsEventStream(request: FastifyRequest, flag: boolean | undefined): boolean {
  if (flag !== undefined) return flag;
  return (request.headers.accept ?? '').includes('text/event-stream');
}

/**
 * A signal that fires when the client goes away before the response is finished. Listens on the
 * response: the request's own 'close' fires as soon as its body has been read.
 */
export function abortOnDisconnect(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort(new Error('the client disconnected'));
  });
  return controller.signal;
}

export interface EventStream {
  /** Fires when the client goes away or the server shuts down: stop the work, nobody will read it. */
  signal: AbortSignal;
  send: (event: string, data: unknown, id?: number) => void;
}

/**
 * Answers with server-sent events, which `write` sends; the stream ends when `write` returns, and
 * a failure becomes an `error` event {code, status, message}. On shutdown the stream ends at once
 * with a `service_unavailable` error event and `signal` fires.
 */
export async function respondWithEventStream(
  request: FastifyRequest,
  reply: FastifyReply,
  write: (stream: EventStream) => Promise<void>,
): Promise<FastifyReply> {
  const { closing } = request.server.eventStreams;
  const signal = AbortSignal.any([abortOnDisconnect(reply), closing]);
  openEventStream(reply);
  const send = (event: string, data: unknown, id?: number) => {
    if (!reply.raw.writableEnded) {
      reply.raw.write(`${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    }
  };
  const sendError = (error: unknown) => {
    if (error instanceof AppError) send('error', { code: error.code, status: error.status, message: error.message });
    else {
      request.log.error({ err: error }, 'stream failed');
      send('error', { code: 'internal_error', status: 500, message: 'An unexpected error occurred' });
    }
  };
  const onClosing = () => {
    sendError(closing.reason);
    // The headers promised keep-alive: left open, the idle connection would hold the closing
    // server until its keep-alive timeout.
    const socket = reply.raw.socket;
    if (!reply.raw.writableEnded) reply.raw.end(() => socket?.end());
  };
  if (closing.aborted) onClosing();
  else closing.addEventListener('abort', onClosing, { once: true });

  await heldOpen(request, async () => {
    try {
      await write({ signal, send });
    } catch (error) {
      if (!signal.aborted) sendError(error);
    } finally {
      closing.removeEventListener('abort', onClosing);
      if (!reply.raw.writableEnded) reply.raw.end();
    }
  });
  return reply;
}

/** Takes the response over from Fastify and sends the headers of a server-sent event stream. */
export function openEventStream(reply: FastifyReply): void {
  void reply.hijack();
  reply.raw.writeHead(200, {
    ...(reply.getHeaders() as Record<string, string>),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    // Proxies such as nginx would otherwise buffer the stream and defeat its purpose.
    'x-accel-buffering': 'no',
  });
  reply.raw.flushHeaders();
}

/** Runs a stream's work as one of the app's writers, which its close waits for. */
export async function heldOpen(request: FastifyRequest, run: () => Promise<void>): Promise<void> {
  const { writers } = request.server.eventStreams;
  const work = run();
  writers.add(work);
  try {
    await work;
  } finally {
    writers.delete(work);
  }
}
