/**
 * A socket's messages handled one after another, in arrival order (an append must reach the VAD
 * before the commit that follows it). Messages waiting beyond `pauseBytes` pause reading from the
 * socket, so a client sending faster than they are handled is held back by TCP, not by memory.
 */
import type { RealtimeSocket } from './socket.js';

export class OrderedIntake {
  private chain: Promise<void> = Promise.resolve();
  private waitingBytes = 0;

  constructor(
    private readonly socket: RealtimeSocket,
    private readonly pauseBytes: number,
  ) {}

  /** Runs `task` after everything added before it; `bytes` is what it holds while waiting. */
  add(bytes: number, task: () => Promise<void>): void {
    this.waitingBytes += bytes;
    if (this.waitingBytes > this.pauseBytes) this.socket.pause();
    this.chain = this.chain.then(task).finally(() => {
      this.waitingBytes -= bytes;
      if (this.waitingBytes <= this.pauseBytes / 4 && this.socket.isPaused) this.socket.resume();
    });
  }

  /** Resolves when every task added so far is done. */
  idle(): Promise<void> {
    return this.chain;
  }
}
