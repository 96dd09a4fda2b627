import path from 'node:path';
import type { Reader } from './reader.js';

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
    /**
     * Models that answer diarized_json with speakers besides those whose name contains "diarize"
     * (STT_DIARIZE_MODELS, for compatible servers with other names). Absent: none.
     */
    diarizeModels?: string[];
  };
  sphinx: {
    binary: string;
    /** Acoustic model folder; null uses pocketsphinx's default (pocketsphinx-en-us). */
    hmm: string | null;
  };
}

export function readStt(read: Reader, dataDir: string, openaiApiKey: string | null): SttConfig {
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
      diarizeModels: read.list('STT_DIARIZE_MODELS', []),
    },
    sphinx: {
      binary: read.string('POCKETSPHINX_BIN', 'pocketsphinx_continuous'),
      hmm: read.optional('POCKETSPHINX_HMM'),
    },
  };
}
