import type { JobHandler } from '../src/jobs/types.js';

/**
 * A job that does nothing, so the benchmark measures the queue alone. It borrows the
 * 'transcription' type name (the registry only accepts known types); nothing transcribes.
 */
export function noopHandler(onStart: (jobId: string) => void): JobHandler<Record<string, never>> {
  return {
    type: 'transcription',
    version: 1,
    maxAttempts: 1,
    parse: () => ({}),
    run: async (ctx) => {
      onStart(ctx.job.id);
      return { result: {}, commit: async () => undefined };
    },
    onSettled: async () => undefined,
  };
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}
