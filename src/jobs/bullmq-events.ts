import type { EventEmitter } from 'node:events';
import type { QueueEvents, QueueEventsProducer } from 'bullmq';
import type { ProcessResult } from './bullmq-outcome.js';
import type { JobEvents } from './queue.js';
import type { JobLog } from './runner.js';
import type { JobStatus } from './types.js';

const EVENT_NAME = 'transcribo';
const MAX_STREAM_EVENTS = 10_000;

type Final = Extract<JobStatus, 'completed' | 'failed' | 'cancelled'>;
export type EventKind = 'progress' | 'partial' | 'settled';
const FINAL = new Set(['completed', 'failed', 'cancelled']);
/** Job ids whose final event this process already passed on; BullMQ and we may both report one. */
const SETTLED_MEMORY = 10_000;

/**
 * Job events across processes: ours go out on the queue's Redis event stream, everyone's come
 * back from it (with BullMQ's own completions and failures) to this process's listeners.
 */
export class JobEventBridge {
  private readonly settledIds = new Set<string>();

  constructor(
    private readonly producer: QueueEventsProducer,
    /** Marks our own events, which this process has already delivered when they come back. */
    private readonly instanceId: string,
    private readonly log: JobLog,
    private readonly listeners: EventEmitter<JobEvents>,
  ) {}

  /** This process hears its own news at once; other processes through the queue's event stream. */
  announce(jobId: string, kind: EventKind, data: Record<string, unknown>, seq: number): void {
    this.deliver(jobId, kind, data, seq);
    void this.publish(jobId, kind, data, seq).catch((error: unknown) =>
      this.log.warn({ err: error, job_id: jobId }, 'could not publish a job event'),
    );
  }

  private async publish(jobId: string, kind: EventKind, data: Record<string, unknown>, seq: number): Promise<void> {
    await this.producer.publishEvent(
      { eventName: EVENT_NAME, jobId, kind, seq: String(seq), origin: this.instanceId, data: JSON.stringify(data) },
      MAX_STREAM_EVENTS,
    );
  }

  /** Everyone's events: BullMQ's completions and failures, and our progress and segments. */
  follow(events: QueueEvents): void {
    events.on('error', (error: Error) => this.log.warn({ err: error }, 'queue events error'));
    events.on('completed', ({ jobId, returnvalue }) => {
      const status = (returnvalue as unknown as ProcessResult | null)?.status;
      if (status && FINAL.has(status)) this.deliver(jobId, 'settled', { status }, 0);
    });
    events.on('failed', ({ jobId }) => this.deliver(jobId, 'settled', { status: 'failed' }, 0));
    events.on(EVENT_NAME as 'error', (args: unknown) => this.onCustomEvent(args as Record<string, string>));
  }

  private onCustomEvent(args: Record<string, string>): void {
    const { jobId, kind, origin } = args;
    if (!jobId || origin === this.instanceId) return;
    try {
      this.deliver(jobId, kind as EventKind, JSON.parse(args.data ?? '{}') as Record<string, unknown>, Number(args.seq));
    } catch (error) {
      this.log.warn({ err: error }, 'unreadable job event');
    }
  }

  /** To this process's listeners only. */
  deliver(jobId: string, kind: EventKind, data: Record<string, unknown>, seq: number): void {
    switch (kind) {
      case 'progress':
        this.listeners.emit('progress', jobId, Number(data.progress), seq);
        break;
      case 'partial':
        this.listeners.emit('partial', jobId, data, seq);
        break;
      case 'settled':
        if (this.settledIds.has(jobId)) return;
        this.settledIds.add(jobId);
        if (this.settledIds.size > SETTLED_MEMORY) this.settledIds.delete(this.settledIds.values().next().value!);
        this.listeners.emit('settled', jobId, data.status as Final);
        break;
    }
  }
}
