import type { Tx } from '../db/client.js';
import type { PermanentErrorCode } from '../http/errors.js';

/** Every job type the application knows. A type here without exactly one handler stops start-up. */
export const JOB_TYPES = ['transcription', 'chat_completion'] as const;
export type JobType = (typeof JOB_TYPES)[number];

export type JobStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

export interface JobRow {
  id: string;
  userId: string;
  type: string;
  payloadVersion: number;
  payload: Record<string, unknown>;
  status: JobStatus;
  progress: number;
  attempts: number;
  maxAttempts: number;
}

export interface JobContext<P> {
  job: JobRow;
  payload: P;
  /** Fires on cancellation, shutdown or a lost lease; its reason says which. */
  signal: AbortSignal;
  /** 0–100; written to the database at most about once a second. */
  progress(percent: number): void;
  /** Partial output as it is produced (e.g. a transcript segment), for live listeners; not stored. */
  partial(data: Record<string, unknown>): void;
}

export interface JobSuccess {
  result: Record<string, unknown>;
  /**
   * Writes the job's output. Runs in the same transaction that marks the job completed, and only
   * if this worker still holds the job: a result is written once or not at all.
   */
  commit(tx: Tx): Promise<void>;
}

export type JobSettlement =
  /** `code` is a code from the error list (src/http/errors.ts); it is stored as the job's error_code. */
  | { status: 'failed'; error: string; code: string }
  | { status: 'cancelled' }
  | { status: 'retrying'; error: string; attempt: number };

export interface JobHandler<P = unknown> {
  readonly type: JobType;
  /** Payload version this handler reads; older versions must still parse. */
  readonly version: number;
  readonly maxAttempts: number;
  parse(payload: Record<string, unknown>, version: number): P;
  run(context: JobContext<P>): Promise<JobSuccess>;
  /** Mirrors progress into the job's own records (e.g. the transcription), in the queue's transaction. */
  onProgress?(tx: Tx, job: JobRow, percent: number): Promise<void>;
  /** Mirrors a failure, cancellation or retry into the job's own records, in the same transaction. */
  onSettled(tx: Tx, job: JobRow, settlement: JobSettlement): Promise<void>;
}

/** A failure that retrying cannot fix (bad input, unsupported option): the job fails at once. */
export class PermanentJobError extends Error {
  constructor(
    message: string,
    /** A code the error list marks permanent (src/http/errors.ts). */
    readonly code: PermanentErrorCode,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PermanentJobError';
  }
}

/** Why a running job's signal fired. */
export class JobInterrupted extends Error {
  constructor(readonly why: 'cancelled' | 'shutdown' | 'lease_lost' | 'timeout') {
    super(`job interrupted: ${why}`);
    this.name = 'JobInterrupted';
  }
}
