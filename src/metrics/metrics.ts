import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { JOB_TYPES } from '../jobs/types.js';
import { processRegistry } from './process.js';

/*
 * Every metric the application exports, in one registry per app (or worker) instance, so that
 * tests can build several apps in one process. Process and event-loop metrics are per process,
 * in processRegistry(), and exposed with each instance's own.
 *
 * Labels carry only bounded vocabularies: route templates, methods, status codes, job types,
 * engine, provider and configured model names. Never a user id, a raw path or an error message.
 */

/** What the job runner reports; `outcome` is how one run ended (RunOutcome's kind). */
export interface JobMetrics {
  jobRan(type: string, outcome: string): void;
  /** A job's first start, `seconds` after it was queued. */
  jobStarted(type: string, seconds: number): void;
}

export interface TranscriptionMetrics {
  /** One transcription by `engine`: `audioSeconds` of audio in `wallSeconds` of engine time. */
  transcribed(engine: string, audioSeconds: number, wallSeconds: number): void;
}

export interface LlmMetrics {
  llmCall(call: { provider: string; model: string; outcome: 'ok' | 'error'; seconds: number }): void;
  llmTokens(provider: string, model: string, usage: { inputTokens: number; outputTokens: number }): void;
}

export interface WebhookMetrics {
  /** The attempts of one dispatcher pass, by how they ended. */
  webhookAttempts(counts: { delivered: number; retrying: number; failed: number }): void;
}

export interface RealtimeMetrics {
  /** A live transcription socket opened (+1) or closed (-1) in this process. */
  realtimeSessions(delta: 1 | -1): void;
  /** One completed turn of a live session, by engine. */
  realtimeTurn(engine: string): void;
}

export interface MetricsOptions {
  /** Queued jobs per type, read at scrape time; absent: no queue-depth gauge values. */
  queuedJobs?: () => Promise<Array<{ type: string; count: number }>>;
  /** Where a failed scrape-time read is reported. */
  log?: { warn(obj: object, msg: string): void };
}

const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export class Metrics implements JobMetrics, TranscriptionMetrics, LlmMetrics, WebhookMetrics, RealtimeMetrics {
  /** This instance's own metrics (not the process ones). */
  readonly registry = new Registry();
  private readonly exposed: Registry;

  private readonly httpDuration = new Histogram({
    name: 'transcribo_http_request_duration_seconds',
    help: 'HTTP request duration by route template ("unmatched" when no route matched), method and status',
    labelNames: ['route', 'method', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  private readonly jobRuns = new Counter({
    name: 'transcribo_jobs_total',
    help: 'Job runs by type and how they ended: completed, failed, retrying, cancelled, released (shutdown), lost',
    labelNames: ['type', 'outcome'] as const,
    registers: [this.registry],
  });

  private readonly jobWait = new Histogram({
    name: 'transcribo_job_wait_seconds',
    help: 'Seconds from a job being queued to its first start, by type',
    labelNames: ['type'] as const,
    buckets: [0.05, 0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 3600],
    registers: [this.registry],
  });

  private readonly realtimeFactor = new Histogram({
    name: 'transcribo_transcription_realtime_factor',
    help: 'Audio seconds transcribed per wall-clock second of engine time, by engine (above 1: faster than real time)',
    labelNames: ['engine'] as const,
    buckets: [0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128],
    registers: [this.registry],
  });

  private readonly llmDuration = new Histogram({
    name: 'transcribo_llm_request_duration_seconds',
    help: 'LLM call duration, retries included (a stream: until its last token), by provider, model and outcome',
    labelNames: ['provider', 'model', 'outcome'] as const,
    buckets: [0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120],
    registers: [this.registry],
  });

  private readonly llmTokenCount = new Counter({
    name: 'transcribo_llm_tokens_total',
    help: 'LLM tokens as the provider reported them, by provider, model and kind (input or output)',
    labelNames: ['provider', 'model', 'kind'] as const,
    registers: [this.registry],
  });

  private readonly webhookAttemptCount = new Counter({
    name: 'transcribo_webhook_delivery_attempts_total',
    help: 'Webhook delivery attempts by outcome: delivered, retrying (failed, tried again later), failed (given up)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private readonly rateLimitRejections = new Counter({
    name: 'transcribo_rate_limit_rejections_total',
    help: 'Requests refused with 429 by the request rate limiter, by route template',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });

  private readonly realtimeActive = new Gauge({
    name: 'transcribo_realtime_sessions_active',
    help: 'Live transcription sockets open in this process',
    registers: [this.registry],
  });

  private readonly realtimeTurns = new Counter({
    name: 'transcribo_realtime_turns_total',
    help: 'Completed turns of live transcription sessions, by engine',
    labelNames: ['engine'] as const,
    registers: [this.registry],
  });

  constructor(options: MetricsOptions = {}) {
    const { queuedJobs, log } = options;
    new Gauge({
      name: 'transcribo_job_queue_depth',
      help: 'Jobs waiting to run (queued, retries included), by type; read from the jobs table at scrape time',
      labelNames: ['type'] as const,
      registers: [this.registry],
      async collect() {
        if (!queuedJobs) return;
        this.reset();
        try {
          const rows = await queuedJobs();
          for (const type of JOB_TYPES) this.set({ type }, 0);
          for (const { type, count } of rows) this.set({ type }, count);
        } catch (error) {
          // A scrape still answers with everything else; the series is absent until the database is back.
          log?.warn({ err: error }, 'metrics: could not count queued jobs');
        }
      },
    });
    this.exposed = Registry.merge([processRegistry(), this.registry]);
  }

  get contentType(): string {
    return this.exposed.contentType;
  }

  /** The Prometheus text exposition: this instance's metrics and the process's. */
  scrape(): Promise<string> {
    return this.exposed.metrics();
  }

  observeRequest(route: string | undefined, method: string, statusCode: number, seconds: number): void {
    this.httpDuration.observe(
      { route: route ?? 'unmatched', method: HTTP_METHODS.has(method) ? method : 'other', status_code: String(statusCode) },
      seconds,
    );
  }

  rateLimited(route: string | undefined): void {
    this.rateLimitRejections.inc({ route: route ?? 'unmatched' });
  }

  jobRan(type: string, outcome: string): void {
    this.jobRuns.inc({ type, outcome });
  }

  jobStarted(type: string, seconds: number): void {
    this.jobWait.observe({ type }, Math.max(0, seconds));
  }

  transcribed(engine: string, audioSeconds: number, wallSeconds: number): void {
    if (audioSeconds > 0 && wallSeconds > 0) this.realtimeFactor.observe({ engine }, audioSeconds / wallSeconds);
  }

  llmCall({ provider, model, outcome, seconds }: Parameters<LlmMetrics['llmCall']>[0]): void {
    this.llmDuration.observe({ provider, model, outcome }, seconds);
  }

  llmTokens(provider: string, model: string, usage: { inputTokens: number; outputTokens: number }): void {
    // A provider's odd report (absent, negative) must not throw inside the call it describes.
    const count = (n: number) => (Number.isFinite(n) && n > 0 ? n : 0);
    this.llmTokenCount.inc({ provider, model, kind: 'input' }, count(usage.inputTokens));
    this.llmTokenCount.inc({ provider, model, kind: 'output' }, count(usage.outputTokens));
  }

  realtimeSessions(delta: 1 | -1): void {
    this.realtimeActive.inc(delta);
  }

  realtimeTurn(engine: string): void {
    this.realtimeTurns.inc({ engine });
  }

  webhookAttempts(counts: { delivered: number; retrying: number; failed: number }): void {
    for (const outcome of ['delivered', 'retrying', 'failed'] as const) {
      if (counts[outcome] > 0) this.webhookAttemptCount.inc({ outcome }, counts[outcome]);
    }
  }
}
