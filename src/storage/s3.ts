import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { StorageConfig } from '../config.js';
import {
  assertSafeKey,
  BlobNotFoundError,
  type BlobRange,
  type BlobReadResult,
  type BlobStore,
  type StoredBlob,
} from './blob-store.js';
import { isNetworkTrouble, storageUnavailable } from './unavailable.js';

export type S3StorageConfig = Extract<StorageConfig, { backend: 's3' }>;

/** Multipart part size; with QUEUE_SIZE parts in flight this bounds what one upload buffers. */
const PART_SIZE = 8 * 1024 * 1024;
const QUEUE_SIZE = 2;
const PING_TIMEOUT_MS = 5_000;

/** Any S3-compatible service: AWS, MinIO, Supabase Storage, R2, s3rver in tests. */
export class S3BlobStore implements BlobStore {
  readonly kind = 's3' as const;
  readonly client: S3Client;
  readonly bucket: string;

  constructor(config: S3StorageConfig) {
    const clientConfig: S3ClientConfig = {
      region: config.region,
      forcePathStyle: config.forcePathStyle,
      // The SDK's default (WHEN_SUPPORTED) sends aws-chunked bodies with trailing CRC32 checksums,
      // which many S3-compatible servers store verbatim or reject.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    };
    if (config.endpoint) clientConfig.endpoint = config.endpoint;
    if (config.accessKeyId && config.secretAccessKey) {
      clientConfig.credentials = {
        accessKeyId: config.accessKeyId,
        secretAccessKey: config.secretAccessKey,
      };
    }
    this.client = new S3Client(clientConfig);
    this.bucket = config.bucket;
  }

  async put(
    key: string,
    body: Readable,
    options: { contentType?: string; signal?: AbortSignal } = {},
  ): Promise<StoredBlob> {
    assertSafeKey(key);
    const { signal } = options;
    signal?.throwIfAborted();

    let size = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        size += chunk.length;
        callback(null, chunk);
      },
    });
    // The first error the body (or an abort) produced: that is what put() rejects with, whatever
    // the SDK made of it on the way.
    let failure: { error: unknown } | undefined;
    const onBodyError = (error: unknown): void => {
      failure ??= { error };
    };
    body.on('error', onBodyError);
    // pipeline() carries a body error into `counter`, where the Upload's reader sees it and stops.
    const piped = pipeline(body, counter).catch(() => {});

    // Aborting destroys the body: the Upload then fails like it would for a broken body, waits for
    // parts in flight and aborts the multipart upload before done() rejects. (Upload.abort() would
    // make done() reject at once and leave that clean-up running unobserved.)
    const onAbort = (): void => {
      failure ??= { error: signal?.reason };
      body.destroy(signal?.reason instanceof Error ? signal.reason : new Error(String(signal?.reason)));
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: counter, ContentType: options.contentType },
      partSize: PART_SIZE,
      queueSize: QUEUE_SIZE,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (err) {
      // Upload aborts its multipart upload itself; if that request failed, try once more.
      if (upload.uploadId) {
        await this.client
          .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: upload.uploadId }))
          .catch(() => {});
      }
      // Nothing reads the body any more: release whatever feeds it (a client's request, a file).
      if (!body.destroyed) body.destroy();
      if (failure) throw failure.error;
      throw unreachable(err);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      body.off('error', onBodyError);
      await piped;
    }
    if (failure || signal?.aborted) {
      // The signal fired after the body was fully read, while the object was being committed:
      // take it back (on an overwrite the previous content is gone by now either way).
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
      throw (failure ?? { error: signal?.reason }).error;
    }
    return { key, size };
  }

  async get(key: string, range?: BlobRange): Promise<BlobReadResult> {
    assertSafeKey(key);
    if (range) checkRange(range);
    let response;
    try {
      response = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Range: range ? `bytes=${range.start}-${range.end}` : undefined,
        }),
      );
    } catch (err) {
      if (isNotFound(err)) throw new BlobNotFoundError(key);
      if (errorName(err) === 'InvalidRange' || statusOf(err) === 416) {
        throw new RangeError(`range ${range?.start}-${range?.end} not satisfiable for ${key}`, { cause: err });
      }
      throw unreachable(err);
    }
    const stream = response.Body;
    if (!(stream instanceof Readable)) {
      throw new Error('S3 GetObject returned no Node.js stream');
    }
    // "bytes 0-99/12345" on a 206; nothing on a 200 (whole object).
    const served = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(response.ContentRange ?? '');
    const size = served ? Number(served[3]) : response.ContentLength;
    if (size === undefined) {
      stream.destroy();
      throw new Error(`S3 GetObject gave no size for ${key}`);
    }
    if (!range) return { stream, size, contentType: response.ContentType ?? null };

    // Some S3-compatible servers serve more than asked: s3rver answers bytes=0-0 with the whole
    // object, others ignore Range altogether. Cut the answer down to exactly the asked bytes.
    const servedStart = served ? Number(served[1]) : 0;
    const servedEnd = served ? Number(served[2]) : size - 1;
    const wantedEnd = Math.min(range.end, size - 1);
    if (servedStart > range.start || servedEnd < wantedEnd) {
      stream.destroy();
      throw new Error(`S3 endpoint served bytes ${servedStart}-${servedEnd} for ${range.start}-${range.end} of ${key}`);
    }
    const exact =
      servedStart === range.start && servedEnd === wantedEnd
        ? stream
        : slice(stream, range.start - servedStart, wantedEnd + 1 - range.start);
    return { stream: exact, size, contentType: response.ContentType ?? null };
  }

  async stat(key: string): Promise<{ size: number } | null> {
    assertSafeKey(key);
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: head.ContentLength ?? 0 };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw unreachable(err);
    }
  }

  async delete(key: string): Promise<void> {
    assertSafeKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      // S3 answers 204 for absent keys; some compatible servers say 404.
      if (!isNotFound(err)) throw unreachable(err);
    }
  }

  async ping(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), {
      abortSignal: AbortSignal.timeout(PING_TIMEOUT_MS),
    });
  }

  destroy(): void {
    this.client.destroy();
  }
}

function checkRange(range: BlobRange): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new RangeError(`invalid byte range ${start}-${end}`);
  }
}

function errorName(err: unknown): string | undefined {
  return err instanceof Error ? err.name : undefined;
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

/**
 * An endpoint that refuses connections, times out or answers 5xx (SlowDown included) is the store
 * being unavailable (503); a refusal (403, no such bucket) stays a fault of the configuration.
 */
function unreachable(err: unknown): unknown {
  const status = statusOf(err);
  return (status !== undefined && status >= 500) || (status === undefined && isNetworkTrouble(err)) ? storageUnavailable(err) : err;
}

/** The object (not the bucket) is absent: GetObject says NoSuchKey, HeadObject a bare 404. */
function isNotFound(err: unknown): boolean {
  const name = errorName(err);
  if (name === 'NoSuchKey' || name === 'NotFound') return true;
  return statusOf(err) === 404 && name !== 'NoSuchBucket';
}

/** The `take` bytes that follow the first `skip` bytes of `source`; the rest is read and dropped. */
function slice(source: Readable, skip: number, take: number): Readable {
  let toSkip = skip;
  let left = take;
  const out = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      let piece = chunk;
      if (toSkip > 0) {
        const skipped = Math.min(toSkip, piece.length);
        toSkip -= skipped;
        piece = piece.subarray(skipped);
      }
      if (left > 0 && piece.length > 0) {
        piece = piece.subarray(0, left);
        left -= piece.length;
        callback(null, piece);
        return;
      }
      callback();
    },
  });
  pipeline(source, out).catch(() => {
    // pipeline() already destroyed `out` with the error: its reader sees it there.
  });
  return out;
}
