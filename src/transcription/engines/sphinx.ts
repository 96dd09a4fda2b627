import path from 'node:path';
import { createInterface } from 'node:readline';
import type { SttConfig } from '../../config.js';
import type { WordTiming } from '../../db/schema.js';
import { spawnTied } from '../../process/spawn.js';
import {
  abortError,
  EngineError,
  type EngineResult,
  type EngineSegment,
  type PcmAudio,
  type TranscribeOptions,
  type TranscriptionEngine,
} from './engine.js';

/*
 * CMU PocketSphinx through its command-line decoder (Debian's `pocketsphinx` package). With
 * `-time yes` it prints, per utterance, the hypothesis line and then one `word start end confidence`
 * line per token, flushing after each utterance, so segments can be reported as they are decoded.
 * Only the US English model is packaged, so other languages are refused before anything runs.
 */

const INSTALL_HINT = 'apt-get install pocketsphinx pocketsphinx-en-us';
const DEFAULT_MODEL = 'pocketsphinx-en-us';
const STDERR_TAIL = 2000;

const WORD_LINE = /^(\S+)\s+(-?\d+(?:\.\d+)?)\s+(-?\d+(?:\.\d+)?)\s+(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)$/i;

/** A parsed `word start end confidence` line, before fillers are dropped. */
interface TokenLine {
  token: string;
  start: number;
  end: number;
  confidence: number;
}

/** `<s>`, `</s>`, `<sil>`, `[NOISE]`, `++BREATH++`: boundaries and fillers, not words. */
export function isFiller(token: string): boolean {
  return /^<.*>$/.test(token) || /^\[.*\]$/.test(token) || /^\+\+.*\+\+$/.test(token);
}

/** `leisure(2)` → `leisure`: the suffix names an alternate pronunciation in the dictionary. */
export function cleanWord(token: string): string {
  return token.replace(/\(\d+\)$/, '');
}

/**
 * Incremental parser for pocketsphinx_continuous `-time yes` output. Feed it lines; it returns a
 * segment whenever an utterance is complete (at `</s>` or when the next hypothesis line starts).
 */
export class SphinxOutputParser {
  private words: WordTiming[] = [];
  /** End of the last token seen, fillers included: how far the decoder has got. */
  lastTime = 0;

  line(raw: string): EngineSegment | null {
    const line = raw.trim();
    const match = WORD_LINE.exec(line);
    if (!match) {
      // A hypothesis line (possibly empty) opens the next utterance.
      return this.finish();
    }
    const token: TokenLine = {
      token: match[1]!,
      start: Number(match[2]),
      end: Number(match[3]),
      confidence: Number(match[4]),
    };
    this.lastTime = Math.max(this.lastTime, token.end);
    if (token.token === '</s>') return this.finish();
    if (isFiller(token.token)) return null;
    const word = cleanWord(token.token);
    if (word === '') return null;
    const confidence = Number.isFinite(token.confidence) ? Math.min(1, Math.max(0, token.confidence)) : undefined;
    this.words.push({
      word,
      start: token.start,
      end: Math.max(token.start, token.end),
      ...(confidence === undefined ? {} : { confidence }),
    });
    return null;
  }

  /** Closes the open utterance, if it holds any real word. */
  finish(): EngineSegment | null {
    const words = this.words;
    this.words = [];
    if (words.length === 0) return null;
    return {
      start: words[0]!.start,
      end: words[words.length - 1]!.end,
      text: words.map((w) => w.word).join(' '),
      words,
    };
  }
}

export function sphinxLanguageSupported(language: string | undefined): boolean {
  if (language === undefined) return true;
  const lower = language.toLowerCase();
  return lower === 'en' || lower.startsWith('en-') || lower.startsWith('en_');
}

export class SphinxEngine implements TranscriptionEngine {
  readonly name = 'sphinx' as const;

  constructor(private readonly config: SttConfig['sphinx']) {}

  get model(): string {
    return this.config.hmm ? path.basename(path.resolve(this.config.hmm)) : DEFAULT_MODEL;
  }

  async transcribe(audio: PcmAudio, options: TranscribeOptions): Promise<EngineResult> {
    const { signal } = options;
    if (!sphinxLanguageSupported(options.language)) {
      throw new EngineError(
        `PocketSphinx only has an English model; language "${options.language}" is not supported`,
        'language_not_supported',
      );
    }
    if (signal.aborted) throw abortError(signal);

    const args = ['-infile', audio.wavPath, '-time', 'yes', '-logfn', '/dev/null'];
    if (this.config.hmm) args.push('-hmm', this.config.hmm);

    const segments = await this.run(args, audio.durationSeconds, options);
    options.onProgress?.(100);
    return { language: 'en', duration: audio.durationSeconds, segments, model: this.model };
  }

  private run(args: string[], duration: number, options: TranscribeOptions): Promise<EngineSegment[]> {
    const { signal } = options;
    const binary = this.config.binary;
    return new Promise<EngineSegment[]>((resolve, reject) => {
      // Tied to this process: a server killed mid-transcription takes its decoder with it.
      const child = spawnTied(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const parser = new SphinxOutputParser();
      const segments: EngineSegment[] = [];
      let stderr = '';
      let lastPercent = -1;
      // The first failure wins; the promise settles only once the child has exited.
      let failure: Error | null = null;
      let spawnError: NodeJS.ErrnoException | null = null;

      const kill = () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      };
      const fail = (error: unknown) => {
        failure ??= error instanceof Error ? error : new Error(String(error));
        kill();
      };
      const onAbort = () => fail(abortError(signal));
      signal.addEventListener('abort', onAbort, { once: true });

      const emit = (segment: EngineSegment | null) => {
        if (failure !== null) return;
        try {
          if (segment) {
            segments.push(segment);
            options.onSegment?.(segment);
          }
          if (duration > 0 && options.onProgress) {
            const percent = Math.min(100, Math.round((parser.lastTime / duration) * 1000) / 10);
            if (percent > lastPercent) {
              lastPercent = percent;
              options.onProgress(percent);
            }
          }
        } catch (error) {
          fail(error);
        }
      };

      const lines = createInterface({ input: child.stdout!, crlfDelay: Infinity });
      lines.on('line', (line) => emit(parser.line(line)));
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (chunk: string) => {
        stderr = (stderr + chunk).slice(-STDERR_TAIL);
      });

      child.on('error', (error: NodeJS.ErrnoException) => {
        spawnError = error;
        kill();
      });

      // 'close' comes after the process has exited and its output streams have ended.
      child.on('close', (code, killedBy) => {
        signal.removeEventListener('abort', onAbort);
        // The callbacks above may have set `failure` since; read it afresh each time.
        const failed = (): Error | null => failure;
        const early = failed();
        if (early) return reject(early);
        if (spawnError) return reject(spawnFailure(binary, spawnError));
        if (code !== 0) {
          const tail = stderr.trim();
          const how = killedBy ? `was killed by ${killedBy}` : `exited with code ${code}`;
          return reject(
            new EngineError(
              `${binary} ${how}${tail ? `: ${tail}` : ' (its log goes to /dev/null; run it by hand to see why)'}`,
              'engine_failed',
            ),
          );
        }
        emit(parser.finish());
        const late = failed();
        if (late) return reject(late);
        resolve(segments);
      });
    });
  }
}

function spawnFailure(binary: string, error: NodeJS.ErrnoException): EngineError {
  if (error.code === 'ENOENT' || error.code === 'EACCES') {
    return new EngineError(
      `PocketSphinx is not available: "${binary}" could not be run (${error.code}). Install it with \`${INSTALL_HINT}\` or set POCKETSPHINX_BIN.`,
      'engine_unavailable',
      { cause: error },
    );
  }
  return new EngineError(`${binary} could not be started: ${error.message}`, 'engine_failed', {
    cause: error,
  });
}
