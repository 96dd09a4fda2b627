/*
 * A response sent before its request body has been read (a 413 at the limit, a 401 before an
 * upload, a 415 decided from a file's first bytes) ends the connection. Node would otherwise read
 * and throw away the rest of the body to keep the connection alive, however large it is: a 1 GB
 * upload refused at 10 MB was read to its last byte.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';

export function closeOnUnreadBody(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply) => {
    // `=== false`: requests injected in tests have no `complete` at all.
    if (request.raw.complete !== false) return;
    void reply.header('connection', 'close');
    // Reading stops now (a paused request fills its buffer, then stops the socket)...
    request.raw.pause();
    // ...and for good once the answer is written: Node would first resume it to drain the body,
    // which, at loopback speed, reads megabytes before its own close takes effect.
    reply.raw.once('finish', () => request.raw.socket?.destroy());
  });
}

/**
 * Calls `onOverflow` once more than `max` bytes of `request` have arrived, having stopped reading
 * it: for bodies read by a parser with no overall limit of its own (busboy). Call it only once
 * the parser reads the request, or this listener would start the flow without it. Returns the
 * function that stops watching.
 */
export function stopReadingPast(request: IncomingMessage, max: number, onOverflow: () => void): () => void {
  let received = 0;
  const onData = (chunk: Buffer) => {
    received += chunk.length;
    if (received <= max) return;
    request.off('data', onData);
    request.unpipe();
    request.pause();
    onOverflow();
  };
  request.on('data', onData);
  return () => request.off('data', onData);
}
