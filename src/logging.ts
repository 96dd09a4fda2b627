/**
 * Where the JSON log lines go: stdout always, and with LOG_FILE a size- and day-rotated file as
 * well (pino-roll), written from this thread so that no transport worker thread costs memory.
 */
import type { EventEmitter } from 'node:events';
import { lstat, rename, symlink, unlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pino, type DestinationStream } from 'pino';
import type { Config, LogFileConfig } from './config.js';

/** Accepted as is by Fastify's `logger` option; `pino(options, options.stream)` elsewhere. */
export interface LoggerOptions {
  level: string;
  stream?: DestinationStream;
}

/** What is used of pino-roll's stream, a SonicBoom (pino-roll ships no type declarations). */
interface RollingFile extends EventEmitter, DestinationStream {
  /** The numbered file being written now. */
  readonly file: string;
  flushSync(): void;
}

type PinoRoll = (options: {
  file: string;
  size: string;
  frequency?: 'daily' | 'hourly';
  dateFormat?: string;
  limit: { count: number; removeOtherLogFiles: boolean };
  mkdir: boolean;
}) => Promise<RollingFile>;

export async function loggerOptions(config: Config): Promise<LoggerOptions> {
  const level = config.logLevel;
  if (!config.logFile || level === 'silent') return { level };
  const file = await openRollingFile(config.logFile);
  // The same destination pino uses by default (asynchronous, flushed at exit), plus the file.
  const stdout = pino.destination({ dest: 1, sync: false });
  const stream = pino.multistream([
    { level, stream: stdout },
    { level, stream: file },
  ]);
  return { level, stream };
}

/** loggerOptions, or exit naming the reason (an unwritable LOG_FILE folder, say). */
export async function loggerOptionsOrExit(config: Config): Promise<LoggerOptions> {
  try {
    return await loggerOptions(config);
  } catch (error) {
    console.error(`LOG_FILE ${config.logFile?.path}: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}

async function openRollingFile(options: LogFileConfig): Promise<RollingFile> {
  await refuseToReplaceFile(options.path);
  // pino-roll names the files itself: app.log gives app.1.log, app.2.log, … by size alone, and
  // app.2026-11-30.1.log, … by day. The date keeps a restart on a later day from appending to an
  // old day's app.1.log (pino-roll counts only the current period's files when numbering).
  const pinoRoll = createRequire(import.meta.url)('pino-roll') as PinoRoll;
  const periods = { daily: 'yyyy-MM-dd', hourly: 'yyyy-MM-dd-HH' } as const;
  const file = await pinoRoll({
    file: options.path,
    size: options.maxSize,
    ...(options.frequency === 'off' ? {} : { frequency: options.frequency, dateFormat: periods[options.frequency] }),
    // Also the files of earlier runs, or restarts would let them pile up.
    limit: { count: options.keep, removeOtherLogFiles: true },
    mkdir: true,
  });
  await new Promise<void>((resolve, reject) => {
    file.once('ready', resolve);
    file.once('error', reject);
  });
  await pointLink(options.path, file.file);
  // 'ready' again after each rotation: the link follows, so `tail -F $LOG_FILE` keeps up.
  file.on('ready', () => void pointLink(options.path, file.file).catch(warnOnce));
  // A full disk must not take the service down: stdout still has every line.
  file.on('error', warnOnce);
  process.once('exit', () => {
    try {
      file.flushSync();
    } catch {
      // Not open (yet, or any more): nothing buffered can be written.
    }
  });
  return file;
}

let warned = false;
function warnOnce(error: unknown): void {
  if (warned) return;
  warned = true;
  process.stderr.write(`LOG_FILE: ${error instanceof Error ? error.message : String(error)}; logging to stdout only may follow\n`);
}

/** LOG_FILE becomes a link: never put one over a real file someone else wrote there. */
async function refuseToReplaceFile(link: string): Promise<void> {
  const found = await lstat(link).catch(() => null);
  if (found && !found.isSymbolicLink()) {
    throw new Error('exists and is not a link; move it away (the logs are written to numbered files next to it)');
  }
}

/** Replaces the link in one rename, so a reader never finds it missing. */
async function pointLink(link: string, target: string): Promise<void> {
  const temporary = `${link}.${process.pid}.tmp`;
  await unlink(temporary).catch(() => undefined);
  await symlink(path.basename(target), temporary);
  await rename(temporary, link);
}
