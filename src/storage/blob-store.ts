import type { Readable } from 'node:stream';

export interface StoredBlob {
  key: string;
  size: number;
}

export interface BlobRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

export interface BlobReadResult {
  stream: Readable;
  /** Size of the whole blob, whatever range was asked for. */
  size: number;
  contentType: string | null;
}

/**
 * Where audio files live: a local folder by default, any S3-compatible service when configured.
 * Keys are relative paths of [A-Za-z0-9._/-] that the application makes; never user input.
 */
export interface BlobStore {
  readonly kind: 'local' | 's3';
  /**
   * Streams `body` into the store. The blob becomes visible only once fully written: a body that
   * errors (client gone, size limit crossed) leaves nothing behind and the promise rejects with
   * the body's error.
   */
  put(key: string, body: Readable, options?: { contentType?: string; signal?: AbortSignal }): Promise<StoredBlob>;
  /**
   * Moves a finished local file into the store (the file is gone afterwards, stored or not).
   * Optional: the local store renames instead of copying; callers fall back to put().
   */
  putFile?(key: string, file: string): Promise<StoredBlob>;
  /** Rejects with BlobNotFoundError when absent. */
  get(key: string, range?: BlobRange): Promise<BlobReadResult>;
  /** Size of the blob, or null when absent. */
  stat(key: string): Promise<{ size: number } | null>;
  /** Removing an absent blob is not an error. */
  delete(key: string): Promise<void>;
  /** Fails when the store cannot be reached; used by readiness. */
  ping(): Promise<void>;
}

export class BlobNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`blob not found: ${key}`);
    this.name = 'BlobNotFoundError';
  }
}

const SAFE_KEY = /^(?!\/)(?!.*\.\.)[A-Za-z0-9._/-]{1,512}$/;

export function assertSafeKey(key: string): void {
  if (!SAFE_KEY.test(key)) throw new Error(`unsafe blob key: ${JSON.stringify(key)}`);
}
