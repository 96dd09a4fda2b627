import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { parseClamdUrl } from './scanning/clamd.js';

export type Env = Record<string, string | undefined>;

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
}

export interface LogFileConfig {
  /** Absolute; a link that always points at the file being written (app.log -> app.2026-11-30.3.log). */
  path: string;
  /** Size that starts a new file, as pino-roll reads it: 500k, 10m, 1g (no unit: MB). */
  maxSize: string;
  /** A new file also at each day's or hour's start; 'off': by size only. */
  frequency: 'daily' | 'hourly' | 'off';
  /** Rotated files kept besides the one being written; older ones are deleted. */
  keep: number;
}

export const LLM_PROVIDERS = ['openai', 'anthropic'] as const;
export type LlmProviderName = (typeof LLM_PROVIDERS)[number];

export interface LlmConfig {
  /** The default provider; null when none has a key or base URL (chat then answers 503). */
  provider: LlmProviderName | null;
  model: string;
  openai: { apiKey: string | null; baseUrl: string | null };
  anthropic: { apiKey: string | null; baseUrl: string | null };
  /** provider:model pairs a request may pick besides the default (e.g. anthropic:claude-sonnet-4-5). */
  allowedModels: string[];
  timeoutMs: number;
  /** Retries of a transient provider error (429, 5xx, timeout) before the user gets 502/504. */
  maxRetries: number;
  retryBaseMs: number;
  /** Tokens of transcript sent whole; longer transcripts are retrieved from or summarised in chunks. */
  contextTokens: number;
  maxOutputTokens: number;
  /** Tokens a user may spend per UTC day; 0 means unlimited. */
  dailyTokenLimit: number;
}

const DEFAULT_MODELS: Record<LlmProviderName, string> = {
  openai: 'gpt-4o-mini',
  anthropic: 'claude-3-5-haiku-latest',
};

export type StorageConfig =
  | { backend: 'local'; dir: string }
  | {
      backend: 's3';
      bucket: string;
      endpoint: string | null;
      region: string;
      accessKeyId: string | null;
      secretAccessKey: string | null;
      forcePathStyle: boolean;
    };

export interface ClamavConfig {
  /** tcp://host:port, unix:///path/to/clamd.sock, or a bare absolute socket path. */
  url: string;
  /** Bounds connecting to clamd and any silence from it (its scan after the last byte included). */
  timeoutMs: number;
  /** Longer uploads are refused unscanned (413 scan_size_exceeded): clamd's StreamMaxLength (25 MB by default). */
  streamMaxBytes: number;
  /** Store uploads unscanned, with a warning, when clamd is down or the upload too long for it. */
  failOpen: boolean;
}

export const ENGINE_NAMES = ['whisper', 'openai', 'sphinx'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

export interface SttConfig {
  defaultEngine: EngineName;
  whisper: {
    /** A model name (tiny … large-v3-turbo, .en variants) or a path to a ggml .bin file. */
    model: string;
    modelsDir: string;
    /** Where named models are downloaded from: `${baseUrl}/ggml-${name}.bin`. */
    modelBaseUrl: string;
    threads: number;
    /** Models a request may name; anything else would be a multi-GB download on a user's whim. */
    allowedModels: string[];
    /** Native build: default (CPU), or vulkan / cuda when that package is installed. */
    variant: 'default' | 'vulkan' | 'cuda';
  };
  openai: {
    /** OpenAI-compatible API root including /v1; null means OpenAI itself. */
    baseUrl: string | null;
    apiKey: string | null;
    model: string;
    /** Files above this are split on silence before upload (OpenAI's limit is 25 MB). */
    maxUploadBytes: number;
    timeoutMs: number;
  };
  sphinx: {
    binary: string;
    /** Acoustic model folder; null uses pocketsphinx's default (pocketsphinx-en-us). */
    hmm: string | null;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
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

/** Reads `.env` (if present) under the process environment: real variables win. */
export function readEnvironment(cwd = process.cwd(), env: Env = process.env): Env {
  const file = path.join(cwd, '.env');
  const fromFile = existsSync(file) ? parseEnv(readFileSync(file, 'utf8')) : {};
  return { ...fromFile, ...env };
}

class Reader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  raw(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  optional(name: string): string | null {
    return this.raw(name) ?? null;
  }

  int(name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const digits = value.replace(/_/g, '');
    const parsed = /^-?\d+$/.test(digits) ? Number(digits) : NaN;
    if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
      this.problems.push(`${name} must be an integer between ${min} and ${max}, got "${value}"`);
      return fallback;
    }
    return parsed;
  }

  bool(name: string, fallback: boolean): boolean {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const lower = value.toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(lower)) return true;
    if (['0', 'false', 'no', 'off'].includes(lower)) return false;
    this.problems.push(`${name} must be true or false, got "${value}"`);
    return fallback;
  }

  list(name: string, fallback: string[]): string[] {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    return value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item.length > 0);
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const match = allowed.find((item) => item.toLowerCase() === value.toLowerCase());
    if (!match) {
      this.problems.push(`${name} must be one of ${allowed.join(', ')}, got "${value}"`);
      return fallback;
    }
    return match;
  }

  url(name: string, protocols: string[]): string | null {
    const value = this.raw(name);
    if (value === undefined) return null;
    try {
      const parsed = new URL(value);
      if (!protocols.includes(parsed.protocol)) {
        this.problems.push(`${name} must use ${protocols.join(' or ')}, got "${parsed.protocol}"`);
      }
    } catch {
      this.problems.push(`${name} must be a URL, got "${value}"`);
    }
    return value;
  }
}

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

function readLogFile(read: Reader): LogFileConfig | null {
  const file = read.optional('LOG_FILE');
  const maxSize = read.string('LOG_FILE_MAX_SIZE', '10m').toLowerCase();
  if (!/^[1-9]\d*[kmg]?$/.test(maxSize)) {
    read.problems.push(`LOG_FILE_MAX_SIZE must be a size such as 500k, 10m or 1g, got "${maxSize}"`);
  }
  const frequency = read.oneOf('LOG_FILE_FREQUENCY', ['daily', 'hourly', 'off'] as const, 'daily');
  const keep = read.int('LOG_FILE_KEEP', 7, 1, 1000);
  return file === null ? null : { path: path.resolve(file), maxSize, frequency, keep };
}

function readLlm(read: Reader, openaiApiKey: string | null): LlmConfig {
  const openai = { apiKey: openaiApiKey, baseUrl: read.url('OPENAI_BASE_URL', ['http:', 'https:']) };
  const anthropic = {
    apiKey: read.optional('ANTHROPIC_API_KEY'),
    baseUrl: read.url('ANTHROPIC_BASE_URL', ['http:', 'https:']),
  };
  const configured = (p: { apiKey: string | null; baseUrl: string | null }) => Boolean(p.apiKey || p.baseUrl);
  const fallback: LlmProviderName | null = configured(openai) ? 'openai' : configured(anthropic) ? 'anthropic' : null;
  const provider = read.raw('LLM_PROVIDER') ? read.oneOf('LLM_PROVIDER', LLM_PROVIDERS, 'openai') : fallback;
  return {
    provider,
    model: read.string('LLM_MODEL', DEFAULT_MODELS[provider ?? 'openai']),
    openai,
    anthropic,
    allowedModels: read.list('LLM_ALLOWED_MODELS', []),
    timeoutMs: read.int('LLM_TIMEOUT_MS', 60_000, 100),
    maxRetries: read.int('LLM_MAX_RETRIES', 2, 0, 10),
    retryBaseMs: read.int('LLM_RETRY_BASE_MS', 500, 1),
    contextTokens: read.int('LLM_CONTEXT_TOKENS', 12_000, 100),
    maxOutputTokens: read.int('LLM_MAX_OUTPUT_TOKENS', 1_024, 16),
    dailyTokenLimit: read.int('LLM_DAILY_TOKEN_LIMIT', 0, 0),
  };
}

function readStorage(read: Reader, dataDir: string): StorageConfig {
  const bucket = read.optional('S3_BUCKET');
  if (!bucket) return { backend: 'local', dir: path.join(dataDir, 'blobs') };
  const endpoint = read.url('S3_ENDPOINT', ['http:', 'https:']);
  return {
    backend: 's3',
    bucket,
    endpoint,
    region: read.string('S3_REGION', 'us-east-1'),
    accessKeyId: read.optional('S3_ACCESS_KEY_ID'),
    secretAccessKey: read.optional('S3_SECRET_ACCESS_KEY'),
    // MinIO, Supabase Storage and most self-hosted S3 need path-style; AWS itself does not.
    forcePathStyle: read.bool('S3_FORCE_PATH_STYLE', endpoint !== null),
  };
}

function readClamav(read: Reader): ClamavConfig | null {
  const url = read.raw('CLAMAV_URL');
  if (url === undefined) return null;
  try {
    parseClamdUrl(url);
  } catch (error) {
    read.problems.push(`CLAMAV_URL ${(error as Error).message}`);
  }
  return {
    url,
    timeoutMs: read.int('CLAMAV_TIMEOUT_MS', 30_000, 100, 600_000),
    streamMaxBytes: read.int('CLAMAV_STREAM_MAX_BYTES', 25 * 1024 * 1024, 1),
    failOpen: read.bool('CLAMAV_FAIL_OPEN', false),
  };
}

function readStt(read: Reader, dataDir: string, openaiApiKey: string | null): SttConfig {
  return {
    defaultEngine: read.oneOf('STT_ENGINE', ENGINE_NAMES, 'whisper'),
    whisper: {
      model: read.string('WHISPER_MODEL', 'base'),
      modelsDir: path.resolve(read.string('MODELS_DIR', path.join(dataDir, 'models'))),
      modelBaseUrl: (
        read.url('WHISPER_MODEL_BASE_URL', ['http:', 'https:']) ??
        'https://huggingface.co/ggerganov/whisper.cpp/resolve/main'
      ).replace(/\/+$/, ''),
      threads: read.int('WHISPER_THREADS', 4, 1, 256),
      allowedModels: read.list('WHISPER_ALLOWED_MODELS', [read.string('WHISPER_MODEL', 'base')]),
      variant: read.oneOf('WHISPER_VARIANT', ['default', 'vulkan', 'cuda'] as const, 'default'),
    },
    openai: {
      baseUrl: read.url('STT_BASE_URL', ['http:', 'https:']),
      apiKey: read.optional('STT_API_KEY') ?? openaiApiKey,
      model: read.string('STT_MODEL', 'whisper-1'),
      maxUploadBytes: read.int('STT_MAX_UPLOAD_BYTES', 25 * 1024 * 1024, 64 * 1024),
      timeoutMs: read.int('STT_TIMEOUT_MS', 600_000, 1_000),
    },
    sphinx: {
      binary: read.string('POCKETSPHINX_BIN', 'pocketsphinx_continuous'),
      hmm: read.optional('POCKETSPHINX_HMM'),
    },
  };
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
