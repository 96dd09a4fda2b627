import { abortError, EngineError } from './engine.js';
import type { NativeTranscribeOptions, NativeTranscribeResult, NativeWhisperContext } from './whisper-native.js';

/**
 * One whisper.cpp call. On abort it stops the job and waits until the native work has really ended
 * (see `drained`) before rejecting with the signal's AbortError.
 */
export async function runNative(
  context: NativeWhisperContext,
  input: { pcm: ArrayBuffer } | { file: string },
  options: NativeTranscribeOptions,
  signal: AbortSignal,
): Promise<NativeTranscribeResult> {
  if (signal.aborted) throw abortError(signal);
  let job: ReturnType<NativeWhisperContext['transcribeData']>;
  try {
    job = 'pcm' in input ? context.transcribeData(input.pcm, options) : context.transcribeFile(input.file, options);
  } catch (error) {
    throw engineFailed(error);
  }
  const outcome = job.promise.then(
    (result) => ({ ok: true as const, result }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<'aborted'>((resolve) => {
    onAbort = () => resolve('aborted');
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const first = await Promise.race([outcome, aborted]);
    if (first === 'aborted') {
      await job.stop().catch(() => {});
      // The stopped job's promise never settles in whisper.node 1.1.x; a probe queued behind it on
      // the context's mutex tells when whisper.cpp has let go of the context.
      await Promise.race([outcome, drained(context)]);
      throw abortError(signal);
    }
    if (!first.ok) throw engineFailed(first.error);
    if (signal.aborted) throw abortError(signal);
    return first.result;
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

/**
 * Resolves once the context's native mutex has been free: a 10 ms probe (too short for whisper.cpp
 * to decode, so it returns at once and leaves the detected language alone) can only run after the
 * job holding the mutex is done. A job that has not reached the mutex yet sees its stop flag there
 * and does no work.
 */
async function drained(context: NativeWhisperContext): Promise<void> {
  try {
    await context.transcribeData(new ArrayBuffer(320), { language: 'en', maxThreads: 1 }).promise;
  } catch {
    // A released context or a failed probe: nothing of ours is running on it any more.
  }
}

function engineFailed(error: unknown): EngineError {
  const reason = error instanceof Error ? error.message : String(error);
  const badInput = /failed to load audio|expected arraybuffer|buffer size must be even/i.test(reason);
  return new EngineError(`whisper.cpp failed: ${reason}`, badInput ? 'audio_undecodable' : 'engine_failed', {
    cause: error,
  });
}
