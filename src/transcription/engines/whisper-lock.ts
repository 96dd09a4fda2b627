import { abortError } from './engine.js';

/** Serialises work on one context: the addon's results live in the context between calls. */
export class Lock {
  private tail: Promise<void> = Promise.resolve();

  /** Runs `work` after everything queued before it; an abort while waiting gives up the turn. */
  async run<T>(work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => (release = resolve));
    try {
      await untilAborted(previous, signal);
    } catch (error) {
      void previous.then(release);
      throw error;
    }
    try {
      return await work();
    } finally {
      release();
    }
  }
}

/** `promise`, or a rejection with the signal's AbortError if it fires first. */
async function untilAborted(promise: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return await promise;
  if (signal.aborted) throw abortError(signal);
  let onAbort: (() => void) | undefined;
  try {
    await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        onAbort = () => reject(abortError(signal));
        signal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}
