import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { readLlm, type LlmConfig } from './config/llm.js';
import {
  readClamav,
  readLogFile,
  readRealtime,
  readTls,
  type ClamavConfig,
  type LogFileConfig,
  type RealtimeConfig,
  type TlsConfig,
} from './config/operations.js';
import { ConfigError, Reader, type Env } from './config/reader.js';
import { readStt, type SttConfig } from './config/speech.js';
import { readStorage, type StorageConfig } from './config/storage.js';

export { ConfigError, readEnvironment, type Env } from './config/reader.js';
export { LLM_PROVIDERS, type LlmConfig, type LlmProviderName } from './config/llm.js';
export type { ClamavConfig, LogFileConfig, RealtimeConfig, TlsConfig } from './config/operations.js';
export { ENGINE_NAMES, type EngineName, type SttConfig } from './config/speech.js';
export type { StorageConfig } from './config/storage.js';

export type JwtAlgorithm = 'HS256' | 'HS384' | 'HS512';

export interface Config {
  environment: string;
  debug: boolean;
  logLevel: string;
  /** LOG_FILE: the JSON log lines also go to this file, rotated; null: stdout only. */
  logFile: LogFileConfig | null;
  host: string;
  port: number;
  dataDir: string;
  databaseUrl: string | null;
  databasePoolSize: number;
  secretKey: string;
  /** Where the secret came from: the environment, or a file under DATA_DIR made on first start. */
  secretKeySource: 'env' | 'generated';
  algorithm: JwtAlgorithm;
  accessTokenExpireMinutes: number;
  refreshTokenExpireDays: number;
  /** Seconds a just-rotated refresh token still answers with the pair it was rotated into (tabs refreshing at once). */
  refreshReuseGraceSeconds: number;
  jwtIssuer: string;
  jwtAudience: string;
  maxFileSize: number;
  /** Longest audio accepted, checked at upload from the header and again while decoding. */
  maxAudioDurationSeconds: number;
  allowedAudioTypes: string[];
  corsOrigins: string[];
  rateLimitMax: number;
  authRateLimitMax: number;
  /** Log-in attempts in a row an account may fail before each further attempt must wait. */
  loginMaxFailures: number;
  /** The first such wait; it doubles with each further failure, up to loginBackoffMaxSeconds. */
  loginBackoffSeconds: number;
  loginBackoffMaxSeconds: number;
  /** Lower-cased e-mails whose accounts are made (or promoted to) admin at register or log-in. */
  adminEmails: string[];
  trustProxy: boolean;
  shutdownTimeoutMs: number;
  /** TRANSCRIPT_VERSIONS_KEPT: an edited transcript keeps its newest N versions and the engine's first. */
  transcriptVersionsKept: number;
  supabase: {
    url: string | null;
    key: string | null;
    jwtSecret: string | null;
    jwtAudience: string;
  };
  redisUrl: string | null;
  /** Key prefix of the queue in Redis: deployments (or tests) sharing one Redis stay apart. */
  redisPrefix: string;
  /** False: this API process enqueues but never runs jobs (they run in `npm run worker` processes). */
  runWorkers: boolean;
  openaiApiKey: string | null;
  anthropicApiKey: string | null;
  storage: StorageConfig;
  /** Explicit ffmpeg binary; null looks for one on PATH, then for the npm-shipped one. */
  ffmpegPath: string | null;
  stt: SttConfig;
  workerConcurrency: number;
  jobAttempts: number;
  jobTimeoutSeconds: number;
  /** A worker that stops renewing its hold on a job for this long is presumed dead; its job runs again. */
  jobLeaseSeconds: number;
  llm: LlmConfig;
  /** Deliver webhooks to private, loopback and link-local addresses (tests; trusted networks). */
  webhookAllowPrivate: boolean;
  webhookTimeoutMs: number;
  webhookMaxAttempts: number;
  /** CLAMAV_URL and its settings: every upload is scanned by clamd before it is stored; null: no scanning. */
  clamav: ClamavConfig | null;
  /** Bearer token that /metrics requires; null: /metrics is not on the main port (see metricsPort). */
  metricsToken: string | null;
  /** A separate plain-HTTP listener serving only /metrics (each worker's way to be scraped); null: none. */
  metricsPort: number | null;
  realtime: RealtimeConfig;
  /** TLS_CERT_FILE + TLS_KEY_FILE: the API port serves HTTPS (and WSS); null: plain HTTP. */
  tls: TlsConfig;
}

/** Values that appear in examples and must never guard a production deployment. */
const PLACEHOLDER_SECRETS = new Set([
  'your-secret-key-here',
  'your-super-secret-key-here',
  'change-me',
  'changeme',
  'secret',
]);

export const DEFAULT_AUDIO_TYPES = [
  'audio/wav',
  'audio/mpeg',
  'audio/mp4',
  'audio/ogg',
  'audio/webm',
  'audio/flac',
];

/**
 * Turns an environment into a validated Config. Nothing else reads process.env; tests call this
 * with their own object. A missing SECRET_KEY outside production is generated once and kept under
 * DATA_DIR so tokens survive restarts.
 */
export function loadConfig(env: Env, options: { persistSecret?: boolean } = {}): Config {
  const read = new Reader(env);
  const environment = read.string('ENVIRONMENT', 'development').toLowerCase();
  const production = environment === 'production';
  const debug = read.bool('DEBUG', false);
  const dataDir = path.resolve(read.string('DATA_DIR', './data'));

  const databaseUrl = read.url('DATABASE_URL', ['postgres:', 'postgresql:']);

  let secretKey = read.raw('SECRET_KEY');
  let secretKeySource: Config['secretKeySource'] = 'env';
  if (production) {
    if (secretKey === undefined) {
      read.problems.push('SECRET_KEY is required when ENVIRONMENT=production');
    } else if (PLACEHOLDER_SECRETS.has(secretKey.toLowerCase())) {
      read.problems.push('SECRET_KEY is still the example value; set a random secret for production');
    } else if (secretKey.length < 32) {
      read.problems.push('SECRET_KEY must be at least 32 characters when ENVIRONMENT=production');
    }
  }
  if (secretKey === undefined && !production) {
    secretKeySource = 'generated';
    secretKey = options.persistSecret === false ? randomBytes(32).toString('hex') : persistedSecret(dataDir);
  }

  const openaiApiKey = read.optional('OPENAI_API_KEY');
  const config: Config = {
    environment,
    debug,
    logLevel: read.oneOf(
      'LOG_LEVEL',
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const,
      debug ? 'debug' : 'info',
    ),
    logFile: readLogFile(read),
    host: read.string('HOST', '0.0.0.0'),
    port: read.int('PORT', 8000, 0, 65535),
    dataDir,
    databaseUrl,
    databasePoolSize: read.int('DATABASE_POOL_SIZE', 10, 1, 1000),
    secretKey: secretKey ?? '',
    secretKeySource,
    algorithm: read.oneOf('ALGORITHM', ['HS256', 'HS384', 'HS512'] as const, 'HS256'),
    accessTokenExpireMinutes: read.int('ACCESS_TOKEN_EXPIRE_MINUTES', 30, 1, 60 * 24 * 365),
    refreshTokenExpireDays: read.int('REFRESH_TOKEN_EXPIRE_DAYS', 30, 1, 3650),
    refreshReuseGraceSeconds: read.int('REFRESH_REUSE_GRACE_SECONDS', 20, 0, 300),
    jwtIssuer: read.string('JWT_ISSUER', 'transcribo'),
    jwtAudience: read.string('JWT_AUDIENCE', 'transcribo'),
    maxFileSize: read.int('MAX_FILE_SIZE', 10 * 1024 * 1024, 1024),
    maxAudioDurationSeconds: read.int('MAX_AUDIO_DURATION_SECONDS', 4 * 3600, 1),
    allowedAudioTypes: read.list('ALLOWED_AUDIO_TYPES', DEFAULT_AUDIO_TYPES),
    corsOrigins: read.list('CORS_ORIGINS', production ? [] : ['*']),
    rateLimitMax: read.int('RATE_LIMIT_MAX', 600, 1),
    authRateLimitMax: read.int('AUTH_RATE_LIMIT_MAX', 30, 1),
    loginMaxFailures: read.int('LOGIN_MAX_FAILURES', 5, 1, 1000),
    loginBackoffSeconds: read.int('LOGIN_BACKOFF_SECONDS', 2, 1, 3600),
    loginBackoffMaxSeconds: read.int('LOGIN_BACKOFF_MAX_SECONDS', 300, 1, 86_400),
    adminEmails: readAdminEmails(read),
    trustProxy: read.bool('TRUST_PROXY', false),
    shutdownTimeoutMs: read.int('SHUTDOWN_TIMEOUT_MS', 10_000, 0),
    transcriptVersionsKept: read.int('TRANSCRIPT_VERSIONS_KEPT', 100, 2, 100_000),
    supabase: {
      url: read.url('SUPABASE_URL', ['http:', 'https:']),
      key: read.optional('SUPABASE_KEY'),
      jwtSecret: read.optional('SUPABASE_JWT_SECRET'),
      jwtAudience: read.string('SUPABASE_JWT_AUDIENCE', 'authenticated'),
    },
    redisUrl: read.url('REDIS_URL', ['redis:', 'rediss:']),
    redisPrefix: read.string('REDIS_PREFIX', 'transcribo'),
    runWorkers: read.bool('RUN_WORKERS', true),
    openaiApiKey,
    anthropicApiKey: read.optional('ANTHROPIC_API_KEY'),
    storage: readStorage(read, dataDir),
    ffmpegPath: read.optional('FFMPEG_PATH'),
    stt: readStt(read, dataDir, openaiApiKey),
    workerConcurrency: read.int('WORKER_CONCURRENCY', 1, 1, 64),
    jobAttempts: read.int('JOB_ATTEMPTS', 3, 1, 20),
    jobTimeoutSeconds: read.int('JOB_TIMEOUT_SECONDS', 3600, 1, 7 * 86_400),
    jobLeaseSeconds: read.int('JOB_LEASE_SECONDS', 30, 1, 600),
    llm: readLlm(read, openaiApiKey),
    webhookAllowPrivate: read.bool('WEBHOOK_ALLOW_PRIVATE', false),
    webhookTimeoutMs: read.int('WEBHOOK_TIMEOUT_MS', 10_000, 100, 120_000),
    webhookMaxAttempts: read.int('WEBHOOK_MAX_ATTEMPTS', 8, 1, 50),
    clamav: readClamav(read),
    metricsToken: read.optional('METRICS_TOKEN'),
    metricsPort: read.raw('METRICS_PORT') === undefined ? null : read.int('METRICS_PORT', 0, 1, 65535),
    realtime: readRealtime(read),
    tls: readTls(read),
  };

  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return config;
}

/** ADMIN_EMAILS: comma-separated, trimmed and compared case-insensitively, so stored lower-cased. */
function readAdminEmails(read: Reader): string[] {
  const emails = read.list('ADMIN_EMAILS', []).map((email) => email.toLowerCase());
  const bad = emails.filter((email) => !/^[^\s@,]+@[^\s@,]+$/.test(email));
  if (bad.length > 0) {
    read.problems.push(`ADMIN_EMAILS must be comma-separated e-mail addresses, got "${bad.join('", "')}"`);
    return [];
  }
  return emails;
}

function persistedSecret(dataDir: string): string {
  const file = path.join(dataDir, 'secret_key');
  if (existsSync(file)) {
    const stored = readFileSync(file, 'utf8').trim();
    if (stored.length >= 32) return stored;
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}
