import { EventEmitter } from 'node:events';
import type { Tx } from '../db/client.js';
import type { JobStatus, JobType } from './types.js';

export interface EnqueueSpec {
  id: string;
  userId: string;
  type: JobType;
  payload: Record<string, unknown>;
  payloadVersion: number;
  maxAttempts: number;
}

export interface JobEvents {
  /** A job reached a final status (here or, polled, in another process). */
  settled: [jobId: string, status: Extract<JobStatus, 'completed' | 'failed' | 'cancelled'>];
  /** `seq` grows within a job, across processes and attempts: it is the SSE event id. */
  progress: [jobId: string, percent: number, seq: number];
  partial: [jobId: string, data: Record<string, unknown>, seq: number];
}

/**
 * Background work. The row is written in the caller's transaction, so a job exists exactly when
 * the work it belongs to (e.g. a queued transcription) does.
 */
export interface JobQueue extends EventEmitter<JobEvents> {
  readonly kind: 'inline' | 'bullmq';
  enqueue(tx: Tx, spec: EnqueueSpec): Promise<void>;
  /**
   * Throws 503 (with Retry-After) when jobs could not be handed to workers now, so a request
   * that needs the queue is refused before it writes anything.
   */
  assertAvailable(): void;
  /** Call after the enqueuing transaction committed, so workers pick the job up without waiting for a poll. */
  wake(): void;
  /** Queued jobs never start; running ones are stopped through their AbortSignal. */
  cancel(jobId: string): Promise<void>;
  start(): Promise<void>;
  /** Stops taking jobs; running jobs get `graceMs` to finish, then are interrupted and left to resume. */
  stop(graceMs: number): Promise<void>;
}
