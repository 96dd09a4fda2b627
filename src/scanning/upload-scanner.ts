import type { FastifyBaseLogger } from 'fastify';
import type { ClamavConfig } from '../config.js';
import { AppError } from '../http/errors.js';
import { ClamdClient, ClamdSizeLimitError, ClamdUnavailableError, parseClamdUrl, type ScanVerdict } from './clamd.js';

/** Checks an upload before anything of it is stored; throws the AppError the client gets. */
export interface UploadScanner {
  /** A file already on disk (the upload's temp file), `size` bytes long. */
  scanFile(file: string, size: number): Promise<void>;
  /** Bytes held in memory (a text upload). */
  scanBytes(bytes: Buffer): Promise<void>;
  /** For readiness: clamd answers PING. */
  ping(): Promise<void>;
}

/**
 * The policy around clamd: a detection is always refused (422 malware_detected); an upload clamd
 * cannot judge (down, too slow, too long) is refused too (503 scanner_unavailable, 413
 * scan_size_exceeded) unless CLAMAV_FAIL_OPEN, which stores it and says so in the log each time.
 */
export class ClamavUploadScanner implements UploadScanner {
  private readonly client: ClamdClient;

  constructor(
    private readonly config: ClamavConfig,
    private readonly log: FastifyBaseLogger,
  ) {
    this.client = new ClamdClient({ address: parseClamdUrl(config.url), timeoutMs: config.timeoutMs });
  }

  scanFile(file: string, size: number): Promise<void> {
    return this.judge(size, () => this.client.scanFile(file));
  }

  scanBytes(bytes: Buffer): Promise<void> {
    return this.judge(bytes.length, () => this.client.scanBytes(bytes));
  }

  ping(): Promise<void> {
    return this.client.ping();
  }

  private async judge(size: number, scan: () => Promise<ScanVerdict>): Promise<void> {
    let result: ScanVerdict;
    try {
      // Known before a byte is sent: clamd would read up to its limit and then refuse anyway.
      if (size > this.config.streamMaxBytes) {
        throw new ClamdSizeLimitError(`the upload is longer than CLAMAV_STREAM_MAX_BYTES (${this.config.streamMaxBytes})`);
      }
      result = await scan();
    } catch (error) {
      this.unjudged(error, size);
      return;
    }
    if (!result.clean) {
      this.log.warn({ signature: result.signature, size_bytes: size }, 'upload refused: malware detected');
      throw new AppError('malware_detected', `The upload was refused: the malware scanner found ${result.signature}`);
    }
  }

  /** clamd gave no verdict: refuse, or with CLAMAV_FAIL_OPEN let it through and say so. */
  private unjudged(error: unknown, size: number): void {
    const tooLong = error instanceof ClamdSizeLimitError;
    if (!tooLong && !(error instanceof ClamdUnavailableError)) throw error;
    if (this.config.failOpen) {
      this.log.warn({ err: error, size_bytes: size }, 'upload stored unscanned (CLAMAV_FAIL_OPEN)');
      return;
    }
    if (tooLong) {
      this.log.info({ err: error, size_bytes: size }, 'upload refused: too long for the malware scanner');
      throw new AppError('scan_size_exceeded', 'The upload is too long for the malware scanner to check; nothing was stored');
    }
    // The error handler logs the 503 with this cause (clamd's address and reason); the client is not told them.
    throw new AppError('scanner_unavailable', 'The malware scanner is unavailable; try again later', undefined, undefined, {
      cause: error,
    });
  }
}

/** The scanner CLAMAV_URL asks for, or none; warns at start-up when it would let files through. */
export function createUploadScanner(
  config: ClamavConfig | null,
  log: FastifyBaseLogger,
  maxFileSize: number,
): UploadScanner | undefined {
  if (!config) return undefined;
  if (config.failOpen) {
    log.warn('CLAMAV_FAIL_OPEN=true: uploads are stored unscanned whenever clamd cannot judge them');
  }
  if (config.streamMaxBytes < maxFileSize) {
    log.warn(
      { clamav_stream_max_bytes: config.streamMaxBytes, max_file_size: maxFileSize },
      config.failOpen
        ? 'uploads longer than CLAMAV_STREAM_MAX_BYTES are stored unscanned'
        : 'uploads longer than CLAMAV_STREAM_MAX_BYTES are refused with 413 scan_size_exceeded',
    );
  }
  return new ClamavUploadScanner(config, log);
}
