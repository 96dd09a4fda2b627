import { readFile } from 'node:fs/promises';
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError, toFile } from 'openai';
import type { SttConfig } from '../../config.js';
import { encodeWav, parseWav } from '../../audio/wav.js';
import {
  abortError,
  EngineError,
  type EngineResult,
  type EngineSegment,
  type PcmAudio,
  type TranscribeOptions,
  type TranscriptionEngine,
} from './engine.js';
import { planChunks } from './openai-chunks.js';
import { diarizedParams, isDiarizingModel, mapDiarized } from './openai-diarized.js';
import { mapVerbose, type VerboseResponse } from './openai-response.js';

/*
 * OpenAI's transcription endpoint, or any server that speaks it (STT_BASE_URL): faster-whisper-server,
 * LocalAI, Groq, … Uploads are capped (25 MB at OpenAI), so longer audio is cut into chunks at the
 * quietest moment before each limit and the chunks are transcribed in order, each with the previous
 * chunk's closing text as its prompt so the wording carries across the cut.
 */

const OPENAI_BASE_URL = 'https://api.openai.com/v1';
/** How much of the previous chunk's text is carried into the next prompt. */
const PROMPT_CARRY_CHARS = 600;

type OpenAIConfig = SttConfig['openai'];

/** Last `PROMPT_CARRY_CHARS` of `text`, starting at a word boundary. */
function promptTail(text: string): string {
  const trimmed = text.trim();
  if (trimmed.length <= PROMPT_CARRY_CHARS) return trimmed;
  const tail = trimmed.slice(-PROMPT_CARRY_CHARS);
  const space = tail.indexOf(' ');
  return space >= 0 ? tail.slice(space + 1) : tail;
}

export class OpenAIEngine implements TranscriptionEngine {
  readonly name = 'openai' as const;
  private client: OpenAI | null = null;

  constructor(private readonly config: OpenAIConfig) {}

  /** Built on first use so that an unconfigured engine only fails the jobs that ask for it. */
  private getClient(): OpenAI {
    if (this.client) return this.client;
    const { apiKey, baseUrl, timeoutMs } = this.config;
    if (!apiKey && !baseUrl) {
      throw new EngineError(
        'The OpenAI engine is not configured: set STT_API_KEY (or OPENAI_API_KEY) for OpenAI, or STT_BASE_URL for an OpenAI-compatible server',
        'engine_not_configured',
      );
    }
    // Everything explicit: the SDK would otherwise read OPENAI_* variables behind the config's back.
    this.client = new OpenAI({
      // A keyless self-hosted server: the SDK insists on a key, so give one and drop the header.
      apiKey: apiKey ?? 'none',
      ...(apiKey ? {} : { defaultHeaders: { Authorization: null } }),
      adminAPIKey: null,
      organization: null,
      project: null,
      baseURL: baseUrl ?? OPENAI_BASE_URL,
      timeout: timeoutMs,
      maxRetries: 0,
    });
    return this.client;
  }

  async transcribe(audio: PcmAudio, options: TranscribeOptions): Promise<EngineResult> {
    const { signal } = options;
    const client = this.getClient();
    if (signal.aborted) throw abortError(signal);
    const model = options.model ?? this.config.model;
    const language = options.language ? options.language.toLowerCase().split(/[-_]/)[0] : undefined;
    const diarize = isDiarizingModel(model, this.config);

    const chunks = await this.prepare(audio);
    const segments: EngineSegment[] = [];
    let detected: string | null = null;
    let previousText = '';

    for (const [index, chunk] of chunks.entries()) {
      if (signal.aborted) throw abortError(signal);
      const prompt = [options.prompt?.trim(), index > 0 ? promptTail(previousText) : undefined]
        .filter((p): p is string => !!p)
        .join(' ');
      const file = await toFile(chunk.wav, chunks.length === 1 ? 'audio.wav' : `chunk-${index + 1}.wav`, {
        type: 'audio/wav',
      });

      let response: unknown;
      try {
        response = await client.audio.transcriptions.create(
          diarize
            ? diarizedParams(file, model, language, options.speakerHints)
            : {
                file,
                model,
                response_format: 'verbose_json',
                timestamp_granularities: options.wordTimestamps ? ['word', 'segment'] : ['segment'],
                ...(language ? { language } : {}),
                ...(prompt ? { prompt } : {}),
              },
          { signal },
        );
      } catch (error) {
        throw providerError(error, signal, this.config.timeoutMs);
      }
      if (signal.aborted) throw abortError(signal);

      // diarized_json names no language: the asked one stands, or none.
      const mapped = diarize
        ? { ...mapDiarized(response, chunk.offset, chunk.duration), language: null }
        : mapVerbose(response as VerboseResponse | string, chunk.offset, chunk.duration, options.wordTimestamps);
      detected ??= mapped.language;
      previousText = mapped.text;
      for (const segment of mapped.segments) {
        segments.push(segment);
        options.onSegment?.(segment);
      }
      options.onProgress?.(Math.min(100, Math.round(chunk.endFraction * 1000) / 10));
    }

    return {
      language: language ?? detected,
      duration: audio.durationSeconds,
      segments,
      model,
    };
  }

  /** The upload(s): the file itself when it fits, otherwise WAV chunks cut on silence. */
  private async prepare(
    audio: PcmAudio,
  ): Promise<Array<{ wav: Buffer; offset: number; duration: number; endFraction: number }>> {
    const whole = await readFile(audio.wavPath);
    if (whole.length <= this.config.maxUploadBytes) {
      return [{ wav: whole, offset: 0, duration: Math.max(audio.durationSeconds, 0), endFraction: 1 }];
    }
    const pcm = parseWav(whole);
    const frames = Math.floor(pcm.samples.length / pcm.channels);
    return planChunks(pcm, this.config.maxUploadBytes).map(({ startFrame, endFrame }) => ({
      wav: encodeWav(
        pcm.samples.subarray(startFrame * pcm.channels, endFrame * pcm.channels),
        pcm.sampleRate,
        pcm.channels,
      ),
      offset: startFrame / pcm.sampleRate,
      duration: (endFrame - startFrame) / pcm.sampleRate,
      endFraction: endFrame / frames,
    }));
  }
}

/**
 * SDK failures as EngineErrors: busy or unreachable providers are worth retrying, refusals are not.
 * A 429 or 503 keeps its meaning (rate limited, overloaded); other upstream failures are a bad gateway.
 */
function providerError(error: unknown, signal: AbortSignal, timeoutMs: number): Error {
  if (signal.aborted) return abortError(signal);
  if (error instanceof EngineError) return error;
  if (error instanceof APIUserAbortError) {
    return new EngineError('The transcription request was aborted', 'provider_unavailable', { cause: error });
  }
  if (error instanceof APIConnectionTimeoutError) {
    return new EngineError(`The transcription provider did not answer within ${timeoutMs} ms`, 'provider_timeout', {
      cause: error,
    });
  }
  if (error instanceof APIConnectionError) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return new EngineError(`Could not reach the transcription provider${cause}`, 'provider_unavailable', {
      cause: error,
    });
  }
  if (error instanceof APIError) {
    const apiError = error as APIError<number | undefined, Headers | undefined, { message?: unknown } | undefined>;
    const status = apiError.status;
    const body = apiError.error;
    const detail =
      typeof body?.message === 'string' ? body.message : error.message.replace(new RegExp(`^${status ?? ''}\\s*`), '');
    if (status === 429) {
      return new EngineError(`The transcription provider is rate limiting us (429): ${detail}`, 'provider_rate_limited', { cause: error });
    }
    if (status === 503) {
      return new EngineError(`The transcription provider is overloaded (503): ${detail}`, 'provider_overloaded', { cause: error });
    }
    if (status === undefined || status === 408 || status >= 500) {
      return new EngineError(`The transcription provider is unavailable (${status ?? 'no status'}): ${detail}`, 'provider_unavailable', {
        cause: error,
      });
    }
    return new EngineError(`The transcription provider rejected the request (${status}): ${detail}`, 'provider_rejected', {
      cause: error,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new EngineError(`Transcription failed: ${message}`, 'engine_failed', { cause: error });
}
