import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from './errors.js';

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

/**
 * Takes the response over for server-sent events. The returned signal fires when the client goes
 * away, so the caller can abort the provider request it is streaming from.
 */
export function openEventStream(request: FastifyRequest, reply: FastifyReply) {
  const signal = abortOnDisconnect(reply);
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
  const send = (event: string, data: unknown, id?: number) => {
    if (!reply.raw.writableEnded) {
      reply.raw.write(`${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    }
  };
  return {
    signal,
    send,
    fail(error: unknown) {
      if (signal.aborted) return;
      if (error instanceof AppError) send('error', { code: error.code, status: error.status, message: error.message });
      else {
        request.log.error({ err: error }, 'stream failed');
        send('error', { code: 'internal_error', status: 500, message: 'An unexpected error occurred' });
      }
    },
    end() {
      if (!reply.raw.writableEnded) reply.raw.end();
    },
  };
}
