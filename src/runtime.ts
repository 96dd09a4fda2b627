import type { FastifyBaseLogger } from 'fastify';
import { resolveFfmpeg } from './audio/ffmpeg.js';
import { AuthService } from './auth/service.js';
import { CompletionService } from './chat/completion.js';
import { ChatCompletionJob } from './chat/job.js';
import { createChatProviders } from './chat/providers/index.js';
import { ChatService } from './chat/service.js';
import { SummaryService } from './chat/summary.js';
import type { Config } from './config.js';
import type { Database } from './db/client.js';
import { InlineJobQueue } from './jobs/inline-queue.js';
import type { JobQueue } from './jobs/queue.js';
import { JobRegistry } from './jobs/registry.js';
import { JobService } from './jobs/service.js';
import { JobEventHub } from './jobs/events.js';
import { createMetrics } from './metrics/create.js';
import { instrumentProviders } from './metrics/llm.js';
import type { Metrics } from './metrics/metrics.js';
import { queuedJobsByType } from './metrics/queue-depth.js';
import type { AudioIntakeOptions } from './recordings/audio-intake.js';
import { RecordingService } from './recordings/service.js';
import { createUploadScanner } from './scanning/upload-scanner.js';
import { SearchService } from './search/service.js';
import type { BlobStore } from './storage/blob-store.js';
import { createBlobStore } from './storage/index.js';
import { LocalBlobStore } from './storage/local.js';
import { createEngines, type EngineSet } from './transcription/engines/index.js';
import { WebhookDispatcher } from './webhooks/delivery.js';
import { WebhookService } from './webhooks/service.js';
import { TranscriptionJob } from './transcription/job.js';
import { TranscriptionService } from './transcription/service.js';
import { TranscriptEditor } from './transcription/edits/service.js';
import { TranscriptReader } from './transcription/reader.js';
import { PrivacyTermsService } from './privacy/terms.js';

export interface Services {
  auth: AuthService;
  recordings: RecordingService;
  transcriptions: TranscriptionService;
  transcriptEdits: TranscriptEditor;
  chat: ChatService;
  jobs: JobService;
  search: SearchService;
  completion: CompletionService;
  summaries: SummaryService;
  webhooks: WebhookService;
  privacyTerms: PrivacyTermsService;
}

/** What a test may replace; everything else is built from the config. */
export interface RuntimeOverrides {
  blobStore?: BlobStore;
  engines?: EngineSet;
  queue?: { leaseMs?: number; pollMs?: number; followEvents?: boolean };
  webhookIntervalMs?: number;
}

export interface Runtime {
  services: Services;
  jobEvents: JobEventHub;
  webhookDispatcher: WebhookDispatcher;
  blobStore: BlobStore;
  engines: EngineSet;
  queue: JobQueue;
  intake: AudioIntakeOptions;
  /** This instance's Prometheus metrics (its own registry); absent when nothing serves them. */
  metrics?: Metrics;
  /** Readiness of clamd when uploads depend on it: CLAMAV_URL set, CLAMAV_FAIL_OPEN not. */
  clamdCheck?: () => Promise<void>;
}

/**
 * BullMQ on Redis when REDIS_URL is set; otherwise the embedded queue in the database. BullMQ and
 * ioredis (tens of MB) are imported only in the first case.
 */
async function createQueue(
  config: Config,
  database: Database,
  registry: JobRegistry,
  log: FastifyBaseLogger,
  metrics: Metrics | undefined,
  overrides: RuntimeOverrides['queue'] = {},
): Promise<JobQueue> {
  const common = {
    db: database.db,
    registry,
    metrics,
    concurrency: config.workerConcurrency,
    runWorkers: config.runWorkers,
    log,
    timeoutMs: config.jobTimeoutSeconds * 1000,
    leaseMs: config.jobLeaseSeconds * 1000,
  };
  if (config.redisUrl) {
    const { BullJobQueue } = await import('./jobs/bullmq-queue.js');
    return new BullJobQueue({ ...common, redisUrl: config.redisUrl, prefix: config.redisPrefix, ...overrides });
  }
  return new InlineJobQueue({ ...common, ...overrides });
}

/**
 * Builds every provider and service once, from the validated config. Async because optional
 * backends (S3, BullMQ) import their SDKs only when configured.
 */
export async function createRuntime(
  config: Config,
  database: Database,
  log: FastifyBaseLogger,
  overrides: RuntimeOverrides = {},
): Promise<Runtime> {
  const { db } = database;
  const blobStore = overrides.blobStore ?? (await createBlobStore(config.storage));
  const engines = overrides.engines ?? createEngines(config.stt, log);
  const ffmpeg = () => resolveFfmpeg(config.ffmpegPath);
  const scanner = createUploadScanner(config.clamav, log, config.maxFileSize);
  const metrics = await createMetrics(config, { queuedJobs: () => queuedJobsByType(db), log });
  const providers = instrumentProviders(
    createChatProviders(config.llm, {
      onRetry: (provider, info) =>
        log.warn({ provider, attempt: info.attempt, delay_ms: info.delayMs, err: info.error }, 'LLM call failed; retrying'),
    }),
    metrics,
  );
  const transcripts = new TranscriptReader();
  const chat = new ChatService(db, transcripts);
  const completion = new CompletionService(db, config.llm, providers, chat, transcripts);
  const registry = new JobRegistry([
    new TranscriptionJob({
      db,
      blobStore,
      engines,
      ffmpeg,
      maxAttempts: config.jobAttempts,
      maxAudioSeconds: config.maxAudioDurationSeconds,
      metrics,
    }),
    new ChatCompletionJob(completion, config.jobAttempts),
  ]);
  const queue = await createQueue(config, database, registry, log, metrics, overrides.queue);
  const jobs = new JobService(db, queue);
  const jobEvents = new JobEventHub(queue);
  const transcriptions = new TranscriptionService(db, {
    queue,
    jobs,
    stt: config.stt,
    maxAttempts: config.jobAttempts,
  });
  const webhookDispatcher = new WebhookDispatcher(db, {
    allowPrivate: config.webhookAllowPrivate,
    timeoutMs: config.webhookTimeoutMs,
    maxAttempts: config.webhookMaxAttempts,
    intervalMs: overrides.webhookIntervalMs ?? 2_000,
    log,
    metrics,
  });
  return {
    jobEvents,
    webhookDispatcher,
    blobStore,
    engines,
    queue,
    metrics,
    clamdCheck: scanner && !config.clamav?.failOpen ? () => scanner.ping() : undefined,
    intake: {
      allowedTypes: config.allowedAudioTypes,
      maxDurationSeconds: config.maxAudioDurationSeconds,
      ffmpeg,
      // Staged next to the blobs, an upload is stored by a rename rather than a second copy.
      tempDir: blobStore instanceof LocalBlobStore ? blobStore.stagingDir() : undefined,
      scanner,
    },
    services: {
      auth: new AuthService(db, config),
      transcriptions,
      transcriptEdits: new TranscriptEditor(db, config.transcriptVersionsKept),
      recordings: new RecordingService(database, transcriptions, blobStore, jobs, scanner),
      chat,
      jobs,
      search: new SearchService(db),
      completion,
      summaries: new SummaryService(db, config.llm, completion, transcripts),
      webhooks: new WebhookService(db, { allowPrivate: config.webhookAllowPrivate }),
      privacyTerms: new PrivacyTermsService(db),
    },
  };
}
