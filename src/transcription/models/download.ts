/**
 * Makes a whisper model available on disk: a named model is downloaded once into MODELS_DIR,
 * checked against its size and SHA-1, and recorded as verified; a path is used as it is.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { syncDir } from '../../storage/sync-dir.js';
import path from 'node:path';
import { resolveModel, type NamedModel, type ResolvedModel } from './registry.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFn = (level: LogLevel, message: string) => void;

export class ModelUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ModelUnavailableError';
  }
}

export interface EnsureModelOptions {
  modelsDir: string;
  /** Without a trailing slash: files are fetched from `${baseUrl}/${file}`. */
  baseUrl: string;
  log?: LogFn;
  signal?: AbortSignal;
  fetchImpl?: typeof fetch;
}

/** What `${file}.sha1` records once a file has been hashed and matched its checksum. */
interface VerifiedRecord {
  sha1: string;
  size: number;
  mtimeMs: number;
}

const PROGRESS_EVERY_FRACTION = 0.05;
const PROGRESS_EVERY_MS = 5_000;

/** Downloads in progress, by target path: concurrent callers share one. */
const inflight = new Map<string, SharedDownload>();

interface SharedDownload {
  promise: Promise<string>;
  controller: AbortController;
  waiters: number;
}

/**
 * Resolves a model spec (registered name, path, or a registry entry for tests) to a file on disk.
 * A named model already present and verified is returned at once; one present but never verified is
 * hashed once; a missing one is downloaded. Rejects with ModelUnavailableError, or with the signal's
 * reason when aborted.
 */
export async function ensureModel(spec: string | NamedModel, options: EnsureModelOptions): Promise<string> {
  const resolved: ResolvedModel = typeof spec === 'string' ? resolveModel(spec) : { kind: 'named', ...spec };
  options.signal?.throwIfAborted();
  if (resolved.kind === 'path') {
    if (await isFile(resolved.path)) return resolved.path;
    throw new ModelUnavailableError(
      `Whisper model file ${resolved.path} does not exist. Set WHISPER_MODEL to the path of a whisper.cpp ggml ` +
        `model, or to a model name (such as base) to download it into ${options.modelsDir}.`,
    );
  }

  const target = path.join(options.modelsDir, resolved.file);
  if (await isFile(target)) {
    await verifyExisting(resolved, target, options);
    return target;
  }

  let shared = inflight.get(target);
  // One whose every waiter gave up is being cancelled: let it clean up its .part, then start afresh
  // rather than inherit its abort.
  while (shared?.controller.signal.aborted) {
    await shared.promise.catch(() => {});
    options.signal?.throwIfAborted();
    shared = inflight.get(target);
  }
  if (!shared) {
    const controller = new AbortController();
    const created: SharedDownload = { controller, waiters: 0, promise: Promise.resolve('') };
    created.promise = download(resolved, target, { ...options, signal: controller.signal }).finally(() => {
      if (inflight.get(target) === created) inflight.delete(target);
    });
    inflight.set(target, created);
    shared = created;
  }
  return await waitForShared(shared, options.signal);
}

/** Waits for a shared download; the download itself is cancelled only when every waiter has gone. */
async function waitForShared(shared: SharedDownload, signal: AbortSignal | undefined): Promise<string> {
  shared.waiters++;
  let onAbort: (() => void) | undefined;
  try {
    if (!signal) return await shared.promise;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason as Error);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    return await Promise.race([shared.promise, aborted]);
  } finally {
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    shared.waiters--;
    if (shared.waiters === 0 && signal?.aborted) shared.controller.abort(signal.reason);
    // Nobody is left to see the outcome of a cancelled download.
    shared.promise.catch(() => {});
  }
}

function howToSupply(model: NamedModel, target: string, url: string): string {
  return (
    `To supply it by hand, download ${url} yourself and put it at ${target}, ` +
    `or set WHISPER_MODEL to the path of a whisper.cpp ggml model file, ` +
    `or run \`npm run models -- download ${model.name}\` where the download server can be reached.`
  );
}

async function download(model: NamedModel, target: string, options: EnsureModelOptions): Promise<string> {
  const url = `${options.baseUrl}/${model.file}`;
  const part = `${target}.part`;
  const log = options.log ?? (() => {});
  const fetchImpl = options.fetchImpl ?? fetch;
  let handle: FileHandle | undefined;
  let received = 0;
  let expected: number | null = null;
  let streaming = false;
  try {
    await mkdir(options.modelsDir, { recursive: true });
    log('info', `downloading whisper model ${model.name} (about ${model.approxMiB} MiB) from ${url}`);
    const response = await fetchImpl(url, { signal: options.signal, redirect: 'follow' });
    if (!response.ok || !response.body) {
      await response.body?.cancel().catch(() => {});
      throw new Error(`the server answered HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`);
    }
    // A compressed response's Content-Length counts the compressed bytes, not the file's.
    const encoding = response.headers.get('content-encoding');
    const lengthHeader = encoding && encoding !== 'identity' ? null : response.headers.get('content-length');
    expected = lengthHeader !== null && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : null;

    handle = await open(part, 'w');
    const hash = createHash('sha1');
    const started = Date.now();
    let lastLogBytes = 0;
    streaming = true;
    let lastLogAt = started;
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      await handle.write(chunk);
      received += chunk.byteLength;
      const now = Date.now();
      const dueBySize = expected !== null && received - lastLogBytes >= expected * PROGRESS_EVERY_FRACTION;
      if (dueBySize || now - lastLogAt >= PROGRESS_EVERY_MS) {
        log('info', progressLine(model.file, received, expected, started, now));
        lastLogBytes = received;
        lastLogAt = now;
      }
    }
    streaming = false;
    if (expected !== null && received !== expected) {
      throw new Error(`the download stopped after ${received} of ${expected} bytes`);
    }
    const actual = hash.digest('hex');
    if (actual !== model.sha1.toLowerCase()) {
      throw new Error(`checksum mismatch: SHA-1 of the download is ${actual}, expected ${model.sha1}`);
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(part, target);
    await syncDir(options.modelsDir);
    await recordVerified(target, model.sha1);
    log('info', progressLine(model.file, received, expected, started, Date.now()) + `; verified, saved as ${target}`);
    return target;
  } catch (error) {
    await handle?.close().catch(() => {});
    await rm(part, { force: true }).catch(() => {});
    if (options.signal?.aborted) throw options.signal.reason as Error;
    let reason = error instanceof Error ? describeFetchError(error) : String(error);
    if (streaming) {
      reason = `the connection failed after ${received}${expected === null ? '' : ` of ${expected}`} bytes (${reason})`;
    }
    throw new ModelUnavailableError(
      `Could not download whisper model ${model.name} from ${url}: ${reason}. ${howToSupply(model, target, url)}`,
      { cause: error },
    );
  }
}

function describeFetchError(error: Error): string {
  // undici's "fetch failed" / "terminated" hide the useful part in `cause`.
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Error && cause.message && !error.message.includes(cause.message)) {
    return `${error.message} (${cause.message})`;
  }
  return error.message;
}

function progressLine(file: string, received: number, expected: number | null, started: number, now: number): string {
  const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
  const seconds = Math.max((now - started) / 1000, 0.001);
  const rate = `${(received / 1e6 / seconds).toFixed(1)} MB/s`;
  if (expected === null || expected === 0) return `${file}: ${mb(received)} MB, ${rate}`;
  const percent = Math.floor((received / expected) * 100);
  return `${file}: ${mb(received)} of ${mb(expected)} MB (${percent}%), ${rate}`;
}

async function verifyExisting(model: NamedModel, target: string, options: EnsureModelOptions): Promise<void> {
  const info = await stat(target);
  const record = await readVerified(target);
  if (record && record.sha1 === model.sha1 && record.size === info.size && record.mtimeMs === info.mtimeMs) return;
  options.log?.('info', `checking the SHA-1 of ${target} (once; the result is kept in ${target}.sha1)`);
  const actual = await sha1OfFile(target, options.signal);
  if (actual !== model.sha1.toLowerCase()) {
    throw new ModelUnavailableError(
      `Whisper model file ${target} is not the expected ${model.name} model: its SHA-1 is ${actual}, expected ` +
        `${model.sha1} (a damaged, partial or different file). Delete it to download the model again, or set ` +
        'WHISPER_MODEL to its path to use it without the check.',
    );
  }
  await recordVerified(target, model.sha1);
}

async function readVerified(target: string): Promise<VerifiedRecord | null> {
  try {
    const parsed = JSON.parse(await readFile(`${target}.sha1`, 'utf8')) as Partial<VerifiedRecord>;
    if (typeof parsed.sha1 === 'string' && typeof parsed.size === 'number' && typeof parsed.mtimeMs === 'number') {
      return { sha1: parsed.sha1, size: parsed.size, mtimeMs: parsed.mtimeMs };
    }
  } catch {
    // Missing or unreadable: the file is hashed again.
  }
  return null;
}

async function recordVerified(target: string, sha1: string): Promise<void> {
  const info = await stat(target);
  const record: VerifiedRecord = { sha1, size: info.size, mtimeMs: info.mtimeMs };
  await writeFile(`${target}.sha1`, `${JSON.stringify(record)}\n`);
}

/** Whether a named model's file is present and has been verified (without hashing it). */
export async function isVerified(model: NamedModel, modelsDir: string): Promise<boolean> {
  const target = path.join(modelsDir, model.file);
  try {
    const info = await stat(target);
    const record = await readVerified(target);
    return !!record && record.sha1 === model.sha1 && record.size === info.size && record.mtimeMs === info.mtimeMs;
  } catch {
    return false;
  }
}

export async function sha1OfFile(file: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha1');
  for await (const chunk of createReadStream(file, { signal, highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

