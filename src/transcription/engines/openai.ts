import { readFile } from 'node:fs/promises';
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError, toFile } from 'openai';
import type { SttConfig } from '../../config.js';
import type { WordTiming } from '../../db/schema.js';
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
import { diarizedParams, isDiarizingModel, mapDiarized } from './openai-diarized.js';

/*
 * OpenAI's transcription endpoint, or any server that speaks it (STT_BASE_URL): faster-whisper-server,
 * LocalAI, Groq, … Uploads are capped (25 MB at OpenAI), so longer audio is cut into chunks at the
 * quietest moment before each limit and the chunks are transcribed in order, each with the previous
 * chunk's closing text as its prompt so the wording carries across the cut.
 */

const OPENAI_BASE_URL = 'https://api.openai.com/v1';
const WAV_HEADER_BYTES = 44;
/** Length of the window whose RMS picks a cut point, and the hop between candidate windows. */
const CUT_WINDOW_SECONDS = 0.3;
const CUT_HOP_SECONDS = 0.01;
/** Cut points are looked for in this last part of each chunk's allowance. */
const CUT_SEARCH_FRACTION = 0.2;
/** How much of the previous chunk's text is carried into the next prompt. */
const PROMPT_CARRY_CHARS = 600;

type OpenAIConfig = SttConfig['openai'];

interface VerboseResponse {
  text?: unknown;
  language?: unknown;
  segments?: unknown;
  words?: unknown;
}

/** A slice of the input, in frames (one sample per channel). */
export interface ChunkPlan {
  startFrame: number;
  endFrame: number;
}

/**
 * Plans where to cut `frames` frames so that every chunk's WAV (header included) stays within
 * `maxBytes`. Each cut is the middle of the quietest 300 ms window in the last 20% before the limit.
 */
export function planChunks(pcm: { samples: Int16Array; sampleRate: number; channels: number }, maxBytes: number): ChunkPlan[] {
  const { samples, sampleRate, channels } = pcm;
  const frames = Math.floor(samples.length / channels);
  const maxFrames = Math.floor((maxBytes - WAV_HEADER_BYTES) / (2 * channels));
  if (maxFrames < 1) {
    throw new EngineError(`STT_MAX_UPLOAD_BYTES (${maxBytes}) is too small for any audio`, 'engine_not_configured');
  }
  if (frames <= maxFrames) return [{ startFrame: 0, endFrame: frames }];

  // Energy per hop-sized block, then prefix sums so any window's energy is one subtraction.
  const hop = Math.max(1, Math.round(sampleRate * CUT_HOP_SECONDS));
  const blocks = Math.ceil(frames / hop);
  const prefix = new Float64Array(blocks + 1);
  for (let b = 0; b < blocks; b++) {
    let sum = 0;
    const end = Math.min(frames, (b + 1) * hop) * channels;
    for (let i = b * hop * channels; i < end; i++) {
      const v = samples[i]!;
      sum += v * v;
    }
    prefix[b + 1] = prefix[b]! + sum;
  }
  const windowBlocks = Math.max(1, Math.round(CUT_WINDOW_SECONDS / CUT_HOP_SECONDS));

  const plan: ChunkPlan[] = [];
  let start = 0;
  while (frames - start > maxFrames) {
    const limit = start + maxFrames;
    const searchFrom = limit - Math.floor(maxFrames * CUT_SEARCH_FRACTION);
    const firstBlock = Math.ceil(searchFrom / hop);
    const lastBlock = Math.floor(limit / hop) - windowBlocks;
    let cut = limit;
    let best = Infinity;
    for (let b = firstBlock; b <= lastBlock; b++) {
      const energy = prefix[b + windowBlocks]! - prefix[b]!;
      // `<=` keeps the latest of equally quiet windows: fewer, fuller chunks.
      if (energy <= best) {
        best = energy;
        cut = (b + Math.floor(windowBlocks / 2)) * hop;
      }
    }
    if (cut <= start) cut = limit;
    plan.push({ startFrame: start, endFrame: cut });
    start = cut;
  }
  plan.push({ startFrame: start, endFrame: frames });
  return plan;
}

/** Whisper reports languages by name in verbose_json; EngineResult wants ISO 639-1. */
const WHISPER_LANGUAGES: Record<string, string> = Object.fromEntries(
  (
    'en english,zh chinese,de german,es spanish,ru russian,ko korean,fr french,ja japanese,pt portuguese,' +
    'tr turkish,pl polish,ca catalan,nl dutch,ar arabic,sv swedish,it italian,id indonesian,hi hindi,' +
    'fi finnish,vi vietnamese,he hebrew,uk ukrainian,el greek,ms malay,cs czech,ro romanian,da danish,' +
    'hu hungarian,ta tamil,no norwegian,th thai,ur urdu,hr croatian,bg bulgarian,lt lithuanian,la latin,' +
    'mi maori,ml malayalam,cy welsh,sk slovak,te telugu,fa persian,lv latvian,bn bengali,sr serbian,' +
    'az azerbaijani,sl slovenian,kn kannada,et estonian,mk macedonian,br breton,eu basque,is icelandic,' +
    'hy armenian,ne nepali,mn mongolian,bs bosnian,kk kazakh,sq albanian,sw swahili,gl galician,' +
    'mr marathi,pa punjabi,si sinhala,km khmer,sn shona,yo yoruba,so somali,af afrikaans,oc occitan,' +
    'ka georgian,be belarusian,tg tajik,sd sindhi,gu gujarati,am amharic,yi yiddish,lo lao,uz uzbek,' +
    'fo faroese,ht haitian creole,ps pashto,tk turkmen,nn nynorsk,mt maltese,sa sanskrit,' +
    'lb luxembourgish,my myanmar,bo tibetan,tl tagalog,mg malagasy,as assamese,tt tatar,haw hawaiian,' +
    'ln lingala,ha hausa,ba bashkir,jw javanese,su sundanese,yue cantonese'
  )
    .split(',')
    .map((pair) => {
      const space = pair.indexOf(' ');
      return [pair.slice(space + 1), pair.slice(0, space)];
    }),
);

function languageCode(reported: unknown): string | null {
  if (typeof reported !== 'string' || reported.trim() === '') return null;
  const lower = reported.trim().toLowerCase();
  if (WHISPER_LANGUAGES[lower]) return WHISPER_LANGUAGES[lower];
  if (/^[a-z]{2,3}([-_][a-z0-9]+)*$/.test(lower)) return lower.split(/[-_]/)[0]!;
  return null;
}

function finiteNumber(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** The decoding figures a verbose_json segment reports; those it leaves out (or garbles) stay unknown. */
function segmentScores(raw: unknown): Pick<EngineSegment, 'avgLogprob' | 'compressionRatio' | 'noSpeechProb' | 'temperature'> {
  const s = raw as { avg_logprob?: unknown; compression_ratio?: unknown; no_speech_prob?: unknown; temperature?: unknown };
  const scores: ReturnType<typeof segmentScores> = {};
  const avgLogprob = finiteNumber(s.avg_logprob);
  const compressionRatio = finiteNumber(s.compression_ratio);
  const noSpeechProb = finiteNumber(s.no_speech_prob);
  const temperature = finiteNumber(s.temperature);
  if (avgLogprob !== null) scores.avgLogprob = avgLogprob;
  if (compressionRatio !== null) scores.compressionRatio = compressionRatio;
  if (noSpeechProb !== null) scores.noSpeechProb = noSpeechProb;
  if (temperature !== null) scores.temperature = temperature;
  return scores;
}

/** Last `PROMPT_CARRY_CHARS` of `text`, starting at a word boundary. */
function promptTail(text: string): string {
  const trimmed = text.trim();
  if (trimmed.length <= PROMPT_CARRY_CHARS) return trimmed;
  const tail = trimmed.slice(-PROMPT_CARRY_CHARS);
  const space = tail.indexOf(' ');
  return space >= 0 ? tail.slice(space + 1) : tail;
}

/**
 * Maps one verbose_json response to segments in the input's time (adding `offset`), clamped to the
 * chunk's span. Words go to the segment containing their midpoint, or the nearest one.
 */
export function mapVerbose(
  response: VerboseResponse | string,
  offset: number,
  chunkDuration: number,
  withWords: boolean,
): { segments: EngineSegment[]; text: string; language: string | null } {
  const body: VerboseResponse = typeof response === 'string' ? { text: response } : (response ?? {});
  const clamp = (t: number) => Math.min(offset + chunkDuration, Math.max(offset, offset + t));
  const text = typeof body.text === 'string' ? body.text.trim() : '';

  const words: WordTiming[] = [];
  if (withWords && Array.isArray(body.words)) {
    for (const raw of body.words as unknown[]) {
      const w = raw as { word?: unknown; start?: unknown; end?: unknown };
      const start = finiteNumber(w.start);
      const end = finiteNumber(w.end);
      if (typeof w.word !== 'string' || w.word.trim() === '' || start === null || end === null) continue;
      const s = clamp(start);
      words.push({ word: w.word.trim(), start: s, end: Math.max(s, clamp(end)) });
    }
    words.sort((a, b) => a.start - b.start);
  }

  let segments: EngineSegment[] = [];
  if (Array.isArray(body.segments)) {
    for (const raw of body.segments as unknown[]) {
      const s = raw as { start?: unknown; end?: unknown; text?: unknown };
      const start = finiteNumber(s.start);
      const end = finiteNumber(s.end);
      const segmentText = typeof s.text === 'string' ? s.text.trim() : '';
      if (start === null || end === null || segmentText === '') continue;
      const from = clamp(start);
      segments.push({ start: from, end: Math.max(from, clamp(end)), text: segmentText, ...segmentScores(raw) });
    }
    segments.sort((a, b) => a.start - b.start);
  }
  if (segments.length === 0 && text !== '') {
    // Servers that leave segments out: one segment for the chunk, spanning its words when known.
    segments = [
      {
        start: words.length > 0 ? words[0]!.start : offset,
        end: words.length > 0 ? words[words.length - 1]!.end : offset + chunkDuration,
        text,
      },
    ];
  }

  if (withWords) {
    for (const segment of segments) segment.words = [];
    for (const word of words) {
      const mid = (word.start + word.end) / 2;
      let target = segments.find((s) => mid >= s.start && mid <= s.end);
      if (!target) {
        let bestDistance = Infinity;
        for (const s of segments) {
          const distance = mid < s.start ? s.start - mid : mid - s.end;
          if (distance < bestDistance) {
            bestDistance = distance;
            target = s;
          }
        }
      }
      target?.words?.push(word);
    }
  }

  return {
    segments,
    text: text !== '' ? text : segments.map((s) => s.text).join(' '),
    language: languageCode(body.language),
  };
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
