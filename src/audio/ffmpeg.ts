/** Finding an ffmpeg binary and running it: bounded stderr, cancellable, errors that say why. */

import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { spawnTied } from '../process/spawn.js';
import { findExecutable } from '../process/find-executable.js';

/** How long `ffmpeg -version` may take before a binary counts as broken. */
const VERSION_TIMEOUT_MS = 15_000;
/** The most stderr kept from one run (its tail: the reason is at the end). */
const MAX_STDERR_CHARS = 64 * 1024;

const cache = new Map<string | null, Promise<string>>();

/**
 * The ffmpeg to run, as an absolute path: FFMPEG_PATH when configured (it must exist and answer
 * `-version`), else `ffmpeg` on PATH, else the binary shipped by @ffmpeg-installer/ffmpeg. Cached
 * per configured value; a failure is not cached, so installing ffmpeg later needs no restart.
 */
export function resolveFfmpeg(configured: string | null): Promise<string> {
  const key = configured?.trim() || null;
  let found = cache.get(key);
  if (!found) {
    found = locateFfmpeg(key);
    cache.set(key, found);
    found.catch(() => cache.delete(key));
  }
  return found;
}

/** resolveFfmpeg without the cache, with the PATH to search as a parameter. */
export async function locateFfmpeg(
  configured: string | null,
  searchPath: string = process.env.PATH ?? '',
): Promise<string> {
  if (configured) return configuredFfmpeg(configured, searchPath);

  const onPath = findExecutable('ffmpeg', searchPath);
  let pathProblem = 'no ffmpeg on PATH';
  if (onPath) {
    try {
      await checkVersion(onPath);
      return onPath;
    } catch (error) {
      pathProblem = `${onPath} did not run: ${describe(error)}`;
    }
  }
  try {
    return await bundledFfmpeg();
  } catch (error) {
    throw new Error(
      `No usable ffmpeg: ${pathProblem}, and ${describe(error)}. Install ffmpeg or set FFMPEG_PATH.`,
      { cause: error },
    );
  }
}

/** The static ffmpeg shipped inside @ffmpeg-installer/ffmpeg (a CommonJS package), checked to run. */
export async function bundledFfmpeg(): Promise<string> {
  let binary: string;
  try {
    const require = createRequire(import.meta.url);
    const installer = require('@ffmpeg-installer/ffmpeg') as { path?: unknown };
    if (typeof installer.path !== 'string' || installer.path === '') throw new Error('it exports no path');
    binary = installer.path;
  } catch (error) {
    throw new Error(`@ffmpeg-installer/ffmpeg is not usable here (${describe(error)})`, { cause: error });
  }
  try {
    await checkVersion(binary);
  } catch (error) {
    throw new Error(`the @ffmpeg-installer/ffmpeg binary ${binary} did not run (${describe(error)})`, {
      cause: error,
    });
  }
  return binary;
}

async function configuredFfmpeg(configured: string, searchPath: string): Promise<string> {
  // A bare name (FFMPEG_PATH=ffmpeg6) is looked up on PATH, anything else is a file path.
  const isPath = configured.includes('/') || configured.includes(path.sep);
  const binary = isPath ? path.resolve(configured) : findExecutable(configured, searchPath);
  if (!binary) throw new Error(`FFMPEG_PATH=${configured}: no such program on PATH`);
  try {
    const info = await stat(binary);
    if (!info.isFile()) throw new Error('not a file');
  } catch (error) {
    throw new Error(`FFMPEG_PATH=${configured}: ${describe(error)}`, { cause: error });
  }
  try {
    await checkVersion(binary);
  } catch (error) {
    throw new Error(`FFMPEG_PATH=${configured} does not run as ffmpeg: ${describe(error)}`, { cause: error });
  }
  return binary;
}

/** Runs `binary -version` and insists that it answers like ffmpeg. */
async function checkVersion(binary: string): Promise<void> {
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = spawnTied(binary, ['-version'], {
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: VERSION_TIMEOUT_MS,
      killSignal: 'SIGKILL',
      windowsHide: true,
    });
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      if (out.length < 64 * 1024) out += chunk;
    });
    // ENOENT, EACCES: the error keeps its code for describe().
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve(out);
      // `killed`: what describe() reads as a timeout, as it was from execFile.
      else reject(Object.assign(new Error(signal ? `killed by ${signal}` : `exited with code ${code}`), { killed: signal !== null }));
    });
  });
  if (!/^ffmpeg version /m.test(stdout)) throw new Error('`-version` did not print an ffmpeg version');
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied (not executable?)';
  if ((error as { killed?: boolean }).killed) return 'it did not answer in time';
  return error.message.split('\n')[0] ?? error.message;
}

export interface RunFfmpegOptions {
  /** Aborting kills ffmpeg (SIGKILL); the promise rejects with the abort reason once it has exited. */
  signal?: AbortSignal;
  /**
   * Receives ffmpeg's stdout (for `pipe:1` outputs), with backpressure; without it stdout is
   * discarded. An error it raises kills ffmpeg and is what the call rejects with.
   */
  stdout?: Writable;
}

export interface FfmpegResult {
  /** The tail of what ffmpeg wrote to stderr (warnings at `-loglevel error` are rare). */
  stderr: string;
}

/** ffmpeg exited non-zero (or was killed by someone else); `reason` is its own last word on it. */
export class FfmpegError extends Error {
  constructor(
    readonly reason: string,
    readonly exitCode: number | null,
    readonly exitSignal: NodeJS.Signals | null,
    readonly stderr: string,
  ) {
    super(`ffmpeg failed: ${reason}`);
    this.name = 'FfmpegError';
  }
}

/**
 * Runs ffmpeg with `-nostdin -hide_banner -loglevel error` before `args`. Resolves when it exits 0;
 * rejects with FfmpegError on any other end, with the abort reason when `signal` fires (after the
 * child is gone), and with a plain Error when the binary cannot be started at all.
 */
export function runFfmpeg(
  ffmpeg: string,
  args: readonly string[],
  { signal, stdout }: RunFfmpegOptions = {},
): Promise<FfmpegResult> {
  return new Promise<FfmpegResult>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const child = spawnTied(ffmpeg, ['-nostdin', '-hide_banner', '-loglevel', 'error', ...args], {
      stdio: ['ignore', stdout ? 'pipe' : 'ignore', 'pipe'],
      windowsHide: true,
    });
    let outputFailure: Error | null = null;
    // Settles once `stdout` has taken everything (or failed), which may be after ffmpeg has exited.
    const output =
      stdout && child.stdout
        ? pipeline(child.stdout, stdout).catch((error: unknown) => {
            outputFailure = error instanceof Error ? error : new Error(String(error));
            child.kill('SIGKILL');
          })
        : Promise.resolve();
    let stderr = '';
    let settled = false;
    let aborted = false;

    const onAbort = () => {
      aborted = true;
      child.kill('SIGKILL');
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      outcome();
    };

    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr += chunk;
      if (stderr.length > 2 * MAX_STDERR_CHARS) stderr = stderr.slice(-MAX_STDERR_CHARS);
    });

    child.on('error', (error) => {
      // Failing to spawn (ENOENT, EACCES) emits 'error' and never a useful exit status.
      finish(() => reject(new Error(`could not run ffmpeg (${ffmpeg}): ${error.message}`, { cause: error })));
    });
    child.on('close', (code, exitSignal) => {
      void output.then(() =>
        finish(() => {
          stderr = stderr.slice(-MAX_STDERR_CHARS);
          if (aborted && signal) reject(abortReason(signal));
          else if (outputFailure !== null) reject(outputFailure);
          else if (code === 0) resolve({ stderr });
          else {
            const reason =
              ffmpegErrorReason(stderr, args) ??
              (exitSignal ? `ffmpeg was killed by ${exitSignal}` : `ffmpeg exited with code ${code}`);
            reject(new FfmpegError(reason, code, exitSignal, stderr));
          }
        }),
      );
    });
  });
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  return new DOMException('The operation was aborted', 'AbortError');
}

/** Bare errno texts that say less than the line before them. */
const GENERIC_REASONS = new Set([
  'invalid argument',
  'input/output error',
  'end of file',
  'operation not permitted',
  'unknown error occurred',
]);

/**
 * ffmpeg's own reason for failing: the last meaningful stderr line, without `[demuxer @ 0x…]` tags,
 * without the file name it is about (one of `args`) and without the wrappers newer ffmpegs add
 * ("Error opening input files: …", "Conversion failed!"). A bare "Invalid argument" keeps the line
 * before it, which says what was invalid.
 */
export function ffmpegErrorReason(stderr: string, args: readonly string[] = []): string | null {
  const names = [...new Set(args)].filter((arg) => arg.length > 1).sort((a, b) => b.length - a.length);
  const lines: string[] = [];
  for (const raw of stderr.split(/\r?\n|\r/)) {
    let line = raw.trim();
    while (/^\[[^\]]*\]\s*/.test(line)) line = line.replace(/^\[[^\]]*\]\s*/, '');
    if (line === '' || /^Conversion failed!?$/i.test(line) || /^Exiting normally/i.test(line)) continue;
    // ffmpeg 6+: "Error opening input file X." followed by "Error opening input files: <reason>".
    if (/^Error opening (?:input|output) file .*\.$/.test(line)) continue;
    line = line.replace(/^Error opening (?:input|output) files?: /, '');
    for (const name of names) {
      if (line.startsWith(`${name}: `)) {
        line = line.slice(name.length + 2);
        break;
      }
    }
    line = line.trim();
    if (line !== '') lines.push(line);
  }
  const last = lines.at(-1);
  if (last === undefined) return null;
  const before = lines.at(-2);
  if (GENERIC_REASONS.has(last.toLowerCase()) && before !== undefined) {
    return `${before.replace(/\.$/, '')} (${last})`;
  }
  return last;
}
