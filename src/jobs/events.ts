import type { JobQueue } from './queue.js';

export interface JobEvent {
  /** Increasing per job; clients resume with Last-Event-ID. */
  id: number;
  event: 'progress' | 'segment' | 'completed' | 'failed' | 'cancelled';
  data: Record<string, unknown>;
}

type Listener = (event: JobEvent) => void;

const MAX_EVENTS_PER_JOB = 1_000;
/** How long a finished job's events stay available for clients that reconnect. */
const KEEP_AFTER_END_MS = 10 * 60_000;

/**
 * The live events of jobs, as this process hears them from its queue (its own workers, or every
 * worker through Redis), kept for a while so a client that reconnects with Last-Event-ID misses
 * nothing. The events route also polls the database, so a final status is never missed.
 */
export class JobEventHub {
  private readonly logs = new Map<string, { events: JobEvent[]; last: number; endedAt: number | null }>();
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(queue: JobQueue) {
    queue.on('progress', (jobId, percent, seq) => this.push(jobId, 'progress', { progress: percent }, seq));
    queue.on('partial', (jobId, data, seq) => this.push(jobId, 'segment', data, seq));
    queue.on('settled', (jobId, status) => {
      this.push(jobId, status, { status }, null);
      const log = this.logs.get(jobId);
      if (log) log.endedAt = Date.now();
      this.prune();
    });
  }

  /** Events after `afterId` (all when null), then live ones through `listener` until unsubscribed. */
  subscribe(jobId: string, afterId: number | null, listener: Listener): { replay: JobEvent[]; unsubscribe: () => void } {
    const replay = (this.logs.get(jobId)?.events ?? []).filter((e) => afterId === null || e.id > afterId);
    let set = this.listeners.get(jobId);
    if (!set) this.listeners.set(jobId, (set = new Set()));
    set.add(listener);
    return {
      replay,
      unsubscribe: () => {
        set.delete(listener);
        if (set.size === 0) this.listeners.delete(jobId);
      },
    };
  }

  /** `seq` comes from the worker (null for the final event), so every process numbers a job's events alike. */
  private push(jobId: string, event: JobEvent['event'], data: Record<string, unknown>, seq: number | null): void {
    let log = this.logs.get(jobId);
    if (!log) this.logs.set(jobId, (log = { events: [], last: 0, endedAt: null }));
    // Events of one job can arrive out of order only across a takeover; an older one is stale.
    if (seq !== null && seq <= log.last) return;
    log.last = seq ?? log.last + 1;
    const entry: JobEvent = { id: log.last, event, data };
    log.events.push(entry);
    if (log.events.length > MAX_EVENTS_PER_JOB) log.events.splice(0, log.events.length - MAX_EVENTS_PER_JOB);
    for (const listener of this.listeners.get(jobId) ?? []) listener(entry);
  }

  private prune(): void {
    const cutoff = Date.now() - KEEP_AFTER_END_MS;
    for (const [jobId, log] of this.logs) {
      if (log.endedAt !== null && log.endedAt < cutoff && !this.listeners.has(jobId)) this.logs.delete(jobId);
    }
  }
}
