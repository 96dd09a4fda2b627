import type { JobRow, JobStatus } from './types.js';

/** A jobs row as PostgreSQL returns it. */
export interface RawJob {
  id: string;
  user_id: string;
  type: string;
  payload_version: number;
  payload: Record<string, unknown>;
  status: JobStatus;
  progress: number;
  attempts: number;
  max_attempts: number;
  created_at?: Date | string;
  started_at?: Date | string | null;
}

export function toJobRow(raw: RawJob): JobRow {
  return {
    id: raw.id,
    userId: raw.user_id,
    type: raw.type,
    payloadVersion: raw.payload_version,
    payload: raw.payload,
    status: raw.status,
    progress: raw.progress,
    attempts: raw.attempts,
    maxAttempts: raw.max_attempts,
  };
}
