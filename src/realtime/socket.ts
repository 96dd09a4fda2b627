import { CLOSE, newId, type ServerEvent } from './protocol.js';

/**
 * The part of a `ws` WebSocket a session uses. Declared here because the project carries no types
 * for `ws` (and @fastify/websocket's types re-export them untyped).
 */
export interface RealtimeSocket {
  readonly readyState: number;
  readonly OPEN: number;
  readonly CONNECTING: number;
  readonly bufferedAmount: number;
  readonly isPaused: boolean;
  readonly protocol: string;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  on(event: 'message', listener: (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => void): this;
  on(event: 'close', listener: (code: number, reason: Buffer) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  off(event: 'message', listener: (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => void): this;
}

/** A message's bytes, whatever form `ws` delivered them in. */
export function messageBytes(data: Buffer | ArrayBuffer | Buffer[]): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** Deltas are skipped once this much is waiting to be sent; a client this far behind is dropped. */
const OPTIONAL_SEND_LIMIT = 1 << 20;
const SEND_LIMIT = 16 << 20;

export function canSendOptional(socket: RealtimeSocket): boolean {
  return socket.bufferedAmount < OPTIONAL_SEND_LIMIT;
}

/** Sends `event` with a fresh event_id while the socket is open; a client that stopped reading is closed. */
export function sendEvent(socket: RealtimeSocket, event: ServerEvent): void {
  if (socket.readyState !== socket.OPEN) return;
  if (socket.bufferedAmount > SEND_LIMIT) {
    socket.close(CLOSE.policy, 'client is not reading its events');
    return;
  }
  socket.send(JSON.stringify({ event_id: newId('event'), ...event }));
}
