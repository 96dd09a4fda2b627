import { createReadStream } from 'node:fs';
import net from 'node:net';

/**
 * A client for clamd's INSTREAM and PING commands (clamd(8), "zINSTREAM"): the file is sent as
 * chunks each prefixed with its length (4 bytes, big-endian) and ended by a zero length; clamd
 * answers one NUL-terminated line. No library: the protocol is a few lines, and owning them lets
 * the client tell clamd's size-limit refusal (an answer a TCP reset can swallow) from clamd down.
 */

export type ScanVerdict = { clean: true } | { clean: false; signature: string };

/** clamd could not be reached, did not answer in time, or answered something other than a verdict. */
export class ClamdUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ClamdUnavailableError';
  }
}

/** clamd stopped reading: the stream was longer than its StreamMaxLength. */
export class ClamdSizeLimitError extends Error {
  constructor(message = 'clamd refused the stream: it is longer than its StreamMaxLength') {
    super(message);
    this.name = 'ClamdSizeLimitError';
  }
}

export type ClamdAddress = { port: number; host: string } | { path: string };

/** tcp://host:port, unix:///path/to/clamd.sock, or a bare absolute socket path. */
export function parseClamdUrl(value: string): ClamdAddress {
  if (value.startsWith('/')) return { path: value };
  const url = URL.canParse(value) ? new URL(value) : null;
  if (url?.protocol === 'unix:' && url.pathname.length > 1 && !url.host) return { path: decodeURIComponent(url.pathname) };
  if (url?.protocol === 'tcp:' && url.hostname && url.port) {
    return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port) };
  }
  throw new Error(`must be tcp://host:port, unix:///path/to/clamd.sock or an absolute socket path, got "${value}"`);
}

/** Chunks small enough for any StreamMaxLength and for clamd's read buffer. */
const CHUNK_BYTES = 64 * 1024;

export interface ClamdOptions {
  address: ClamdAddress;
  /** Bounds connecting, and any silence afterwards (clamd scanning after the last byte included). */
  timeoutMs: number;
}

export class ClamdClient {
  constructor(private readonly options: ClamdOptions) {}

  async ping(): Promise<void> {
    const reply = await this.exchange(async (socket) => {
      socket.end('zPING\0');
    });
    if (reply !== 'PONG') throw new ClamdUnavailableError(`clamd answered PING with "${reply}"`);
  }

  scanFile(file: string): Promise<ScanVerdict> {
    return this.scan(createReadStream(file, { highWaterMark: CHUNK_BYTES }));
  }

  scanBytes(bytes: Buffer): Promise<ScanVerdict> {
    const chunks = function* () {
      for (let at = 0; at < bytes.length; at += CHUNK_BYTES) yield bytes.subarray(at, at + CHUNK_BYTES);
    };
    return this.scan(chunks());
  }

  private async scan(chunks: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<ScanVerdict> {
    let streamed = false;
    let reply: string;
    try {
      reply = await this.exchange(async (socket) => {
        await send(socket, Buffer.from('zINSTREAM\0'));
        for await (const chunk of chunks) {
          const length = Buffer.alloc(4);
          length.writeUInt32BE(chunk.length);
          streamed = true;
          // clamd answers early and closes when the stream passes its limit: stop sending then.
          if (!(await send(socket, Buffer.concat([length, chunk])))) return;
        }
        socket.end(Buffer.alloc(4));
      });
    } catch (error) {
      if (streamed && error instanceof ClamdUnavailableError) await this.closedMidStream(error);
      throw error;
    }
    return verdict(reply);
  }

  /**
   * Over TCP, clamd's "size limit exceeded" answer can be lost: it closes with our bytes unread, the
   * reset fails our next write, and the socket is gone before the answer is read. A clamd that still
   * answers PING refused this stream, which only its StreamMaxLength does; one that does not is down.
   */
  private async closedMidStream(error: ClamdUnavailableError): Promise<void> {
    const code = (error.cause as NodeJS.ErrnoException | undefined)?.code;
    if (code !== 'EPIPE' && code !== 'ECONNRESET') return;
    const alive = await this.ping().then(
      () => true,
      () => false,
    );
    if (alive) throw new ClamdSizeLimitError('clamd closed the stream before its end: it is longer than its StreamMaxLength');
  }

  /**
   * Connects, lets `write` send the command, and resolves with clamd's one-line answer. A write
   * that fails because clamd already answered and closed is not an error: the answer is.
   */
  private exchange(write: (socket: net.Socket) => Promise<void>): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection(this.options.address);
      const received: Buffer[] = [];
      let settled = false;
      const settle = (error: Error | null) => {
        if (settled) return;
        settled = true;
        socket.destroy();
        if (error) reject(error);
        else resolve(Buffer.concat(received).toString('utf8').replace(/\0[\s\S]*$/, '').trim());
      };
      const failed = (error: unknown) =>
        settle(new ClamdUnavailableError(`clamd: ${error instanceof Error ? error.message : String(error)}`, { cause: error }));
      socket.setTimeout(this.options.timeoutMs, () => failed(new Error(`no answer within ${this.options.timeoutMs} ms`)));
      socket.on('data', (data: Buffer) => {
        received.push(data);
        if (data.includes(0)) settle(null);
      });
      socket.on('end', () => (received.length > 0 ? settle(null) : failed(new Error('closed the connection without an answer'))));
      socket.on('error', (error) => (received.length > 0 ? settle(null) : failed(error)));
      socket.on('close', () => (received.length > 0 ? settle(null) : failed(new Error('closed the connection'))));
      socket.once('connect', () => {
        // An error reading the file is ours, not clamd's: it must not read as "scanner down".
        write(socket).catch((error: unknown) => {
          if (settled) return;
          settled = true;
          socket.destroy();
          reject(error instanceof Error ? error : new Error(String(error)));
        });
      });
    });
  }
}

/** Writes with backpressure; false once the socket can take no more (clamd answered and closed). */
function send(socket: net.Socket, data: Buffer): Promise<boolean> {
  if (socket.destroyed || !socket.writable) return Promise.resolve(false);
  if (socket.write(data)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      socket.off('drain', onDrain);
      socket.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    socket.on('drain', onDrain);
    socket.on('close', onClose);
  });
}

/** "stream: OK", "stream: <signature> FOUND", "INSTREAM size limit exceeded. ERROR", "<reason> ERROR". */
export function verdict(reply: string): ScanVerdict {
  if (/^stream: OK$/.test(reply)) return { clean: true };
  const found = /^stream: (.+) FOUND$/.exec(reply);
  if (found) return { clean: false, signature: found[1]! };
  if (/size limit exceeded/i.test(reply)) throw new ClamdSizeLimitError();
  throw new ClamdUnavailableError(`clamd could not scan the stream: "${reply || 'no answer'}"`);
}
