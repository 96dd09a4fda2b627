/*
 * A response sent before its request body has been read (a 413 at the limit, a 401 before an
 * upload, a 415 decided from a file's first bytes) ends the connection. Node would otherwise read
 * and throw away the rest of the body to keep the connection alive, however large it is: a 1 GB
 * upload refused at 10 MB was read to its last byte.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

export function closeOnUnreadBody(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply) => {
    // `=== false`: requests injected in tests have no `complete` at all.
    if (request.raw.complete !== false) return;
    void reply.header('connection', 'close');
    // Reading stops now (a paused request fills its buffer, then stops the socket)...
    request.raw.pause();
    const socket = request.raw.socket;
    if (socket) socket.destroySoon = () => lingeringClose(socket);
  });
}

/** How long a refused client gets to read its answer before the connection is dropped. */
const LINGER_MS = 2_000;
/** What the socket may still take in meanwhile: the bytes already in flight, not the body. */
const LINGER_BYTES = 64 * 1024;

/*
 * Node ends a `connection: close` answer by resuming the request to drain the body (at loopback
 * speed, megabytes) and closing a socket that still holds unread bytes, which the kernel turns into
 * a reset that can overtake the answer: the client sees ECONNRESET, not its 413. Instead the answer
 * is followed by a FIN, and the socket is dropped once the client hangs up, once LINGER_BYTES more
 * have come in, or after LINGER_MS.
 */
function lingeringClose(socket: Socket): void {
  socket.end();
  const readAtEnd = socket.bytesRead;
  // The request's parser is detached by now: what still comes in passes here as socket data.
  socket.on('data', () => {
    if (socket.bytesRead - readAtEnd > LINGER_BYTES) socket.destroy();
  });
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
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
