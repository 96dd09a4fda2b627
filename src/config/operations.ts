import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { parseClamdUrl } from '../scanning/clamd.js';
import type { Reader } from './reader.js';

/* Live sessions, TLS, log files and malware scanning: how the server runs, not what it does. */

/** Bounds of live transcription sessions (GET /v1/realtime). */
export interface RealtimeConfig {
  /** Sockets one user may hold open at once, across API processes. */
  maxSessionsPerUser: number;
  /** Longest a session may last; it is closed (and stored) then. */
  maxSeconds: number;
  /** A session that receives nothing for this long is closed. */
  idleTimeoutSeconds: number;
  /** Largest WebSocket message accepted (OpenAI's limit: 15 MiB). */
  maxMessageBytes: number;
  /** Audio waiting for the engine beyond this is dropped, and the client told: the engine fell behind. */
  maxBufferedSeconds: number;
}

export type TlsConfig = { certFile: string; keyFile: string } | null;

export interface LogFileConfig {
  /** Absolute; a link that always points at the file being written (app.log -> app.2026-11-30.3.log). */
  path: string;
  /** Size that starts a new file, as pino-roll reads it: 500k, 10m, 1g (no unit: MB). */
  maxSize: string;
  /** A new file also at each day's or hour's start; 'off': by size only. */
  frequency: 'daily' | 'hourly' | 'off';
  /** Rotated files kept besides the one being written; older ones are deleted. */
  keep: number;
}

export interface ClamavConfig {
  /** tcp://host:port, unix:///path/to/clamd.sock, or a bare absolute socket path. */
  url: string;
  /** Bounds connecting to clamd and any silence from it (its scan after the last byte included). */
  timeoutMs: number;
  /** Longer uploads are refused unscanned (413 scan_size_exceeded): clamd's StreamMaxLength (25 MB by default). */
  streamMaxBytes: number;
  /** Store uploads unscanned, with a warning, when clamd is down or the upload too long for it. */
  failOpen: boolean;
}

export function readRealtime(read: Reader): RealtimeConfig {
  return {
    maxSessionsPerUser: read.int('REALTIME_MAX_SESSIONS_PER_USER', 4, 1, 10_000),
    maxSeconds: read.int('REALTIME_MAX_SECONDS', 3600, 10, 7 * 86_400),
    idleTimeoutSeconds: read.int('REALTIME_IDLE_TIMEOUT_SECONDS', 60, 1, 86_400),
    maxMessageBytes: read.int('REALTIME_MAX_MESSAGE_BYTES', 15 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    maxBufferedSeconds: read.int('REALTIME_MAX_BUFFERED_SECONDS', 30, 1, 3600),
  };
}

/** Both files or neither, and readable now: a typo must stop the start, not the first handshake. */
export function readTls(read: Reader): TlsConfig {
  const certFile = read.optional('TLS_CERT_FILE');
  const keyFile = read.optional('TLS_KEY_FILE');
  if (certFile === null && keyFile === null) return null;
  if (certFile === null || keyFile === null) {
    read.problems.push(`${certFile === null ? 'TLS_CERT_FILE' : 'TLS_KEY_FILE'} must be set too when ${certFile === null ? 'TLS_KEY_FILE' : 'TLS_CERT_FILE'} is`);
    return null;
  }
  for (const [name, file] of [['TLS_CERT_FILE', certFile], ['TLS_KEY_FILE', keyFile]] as const) {
    try {
      accessSync(file, constants.R_OK);
    } catch (error) {
      read.problems.push(`${name} "${file}" cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  return { certFile: path.resolve(certFile), keyFile: path.resolve(keyFile) };
}

export function readLogFile(read: Reader): LogFileConfig | null {
  const file = read.optional('LOG_FILE');
  const maxSize = read.string('LOG_FILE_MAX_SIZE', '10m').toLowerCase();
  if (!/^[1-9]\d*[kmg]?$/.test(maxSize)) {
    read.problems.push(`LOG_FILE_MAX_SIZE must be a size such as 500k, 10m or 1g, got "${maxSize}"`);
  }
  const frequency = read.oneOf('LOG_FILE_FREQUENCY', ['daily', 'hourly', 'off'] as const, 'daily');
  const keep = read.int('LOG_FILE_KEEP', 7, 1, 1000);
  return file === null ? null : { path: path.resolve(file), maxSize, frequency, keep };
}

export function readClamav(read: Reader): ClamavConfig | null {
  const url = read.raw('CLAMAV_URL');
  if (url === undefined) return null;
  try {
    parseClamdUrl(url);
  } catch (error) {
    read.problems.push(`CLAMAV_URL ${(error as Error).message}`);
  }
  return {
    url,
    timeoutMs: read.int('CLAMAV_TIMEOUT_MS', 30_000, 100, 600_000),
    streamMaxBytes: read.int('CLAMAV_STREAM_MAX_BYTES', 25 * 1024 * 1024, 1),
    failOpen: read.bool('CLAMAV_FAIL_OPEN', false),
  };
}
