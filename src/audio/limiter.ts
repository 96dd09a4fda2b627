/** A counting semaphore: at most `limit` tasks run at once, the rest wait their turn in order. */

import { availableParallelism } from 'node:os';

export class ConcurrencyLimiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`a concurrency limit must be a positive integer, not ${limit}`);
  }

  /** Tasks running now. */
  get active(): number {
    return this.running;
  }

  /** Tasks waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Runs `task` once a slot is free; its slot is released however it ends. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  private acquire(): Promise<void> {
    if (this.running < this.limit) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    // The slot passes straight to the next waiter, so a newcomer cannot overtake the queue.
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }
}

/**
 * Shared by every upload in this process: decoding is CPU-bound, so more ffmpegs than cores only
 * makes each slower and piles up processes; the rest queue here instead.
 */
export const uploadDecoders = new ConcurrencyLimiter(availableParallelism());
