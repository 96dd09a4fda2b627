/**
 * A tiny random-weight Whisper model in whisper.cpp's legacy ggml format, for tests that must run
 * the real native engine without downloading anything. The layout mirrors whisper.cpp's
 * convert-pt-to-ggml.py and what `whisper_model_load` (src/whisper.cpp) reads back:
 *
 *   magic 0x67676d6c ("ggml", little-endian int32)
 *   11 × int32 hparams: n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer,
 *                       n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, ftype
 *   mel filters: int32 n_mel, int32 n_fft, n_mel × n_fft float32
 *   vocab: int32 count, then per token int32 length + bytes (tokens past `count` up to n_vocab are
 *          filled in by whisper.cpp as [_extra_token_N], [_SOT_], [_LANG_xx], [_TT_N], ...)
 *   tensors until EOF: int32 n_dims, int32 name length, int32 type (0 f32, 1 f16),
 *          n_dims × int32 ne (ggml order: ne[0] is the fastest-varying), name bytes, raw data
 *
 * Every tensor whisper_model_load creates must appear exactly once with its exact shape and type, or
 * loading fails ("not all tensors loaded", "wrong shape"). n_vocab decides the special tokens:
 * 51864 is English-only, 51865 multilingual with 99 languages (51866 is large-v3's 100), because
 * token ids such as sot, transcribe and the 1501 timestamp tokens are derived from it. That pins the
 * token embedding at n_vocab × n_text_state, the one big tensor, so n_state is kept small.
 */
import { writeFileSync } from 'node:fs';

export interface TinyModelOptions {
  /** 51865 (multilingual, default) or 51864 (English-only). */
  nVocab?: number;
  /** n_audio_state = n_text_state; must be divisible by nHead. */
  nState?: number;
  nHead?: number;
  nLayer?: number;
  seed?: number;
}

const GGML_FILE_MAGIC = 0x67676d6c;
const GGML_TYPE_F32 = 0;
const GGML_TYPE_F16 = 1;
/** Whole-model ftype 1: "mostly f16": matrices f16, norms, biases and positional embeddings f32. */
const FTYPE_MOSTLY_F16 = 1;
const N_AUDIO_CTX = 1500; // 30 s of audio after the stride-2 conv: whisper's fixed window
const N_TEXT_CTX = 448;
const N_MELS = 80;
const N_FFT = 201; // 1 + WHISPER_N_FFT / 2
const SPACE_TOKEN = 220;

type TensorType = typeof GGML_TYPE_F32 | typeof GGML_TYPE_F16;

interface TensorSpec {
  name: string;
  /** ggml order (ne[0] first). */
  ne: number[];
  type: TensorType;
  init: 'random' | 'ones' | 'zeros';
}

/** The tensors whisper_model_load expects, in its order, for the given hparams. */
export function tinyModelTensors(nState: number, nLayer: number, nVocab: number): TensorSpec[] {
  const f32: TensorType = GGML_TYPE_F32;
  const w: TensorType = GGML_TYPE_F16; // wtype for ftype 1
  const v: TensorType = GGML_TYPE_F16; // conv weights: f16 unless the model is all-f32
  const tensors: TensorSpec[] = [
    { name: 'encoder.positional_embedding', ne: [nState, N_AUDIO_CTX], type: f32, init: 'random' },
    { name: 'encoder.conv1.weight', ne: [3, N_MELS, nState], type: v, init: 'random' },
    { name: 'encoder.conv1.bias', ne: [1, nState], type: f32, init: 'zeros' },
    { name: 'encoder.conv2.weight', ne: [3, nState, nState], type: v, init: 'random' },
    { name: 'encoder.conv2.bias', ne: [1, nState], type: f32, init: 'zeros' },
    { name: 'encoder.ln_post.weight', ne: [nState], type: f32, init: 'ones' },
    { name: 'encoder.ln_post.bias', ne: [nState], type: f32, init: 'zeros' },
  ];
  const block = (prefix: string, attn: string, withLn = true): TensorSpec[] => [
    ...(withLn
      ? [
          { name: `${prefix}.${attn}_ln.weight`, ne: [nState], type: f32, init: 'ones' as const },
          { name: `${prefix}.${attn}_ln.bias`, ne: [nState], type: f32, init: 'zeros' as const },
        ]
      : []),
    { name: `${prefix}.${attn}.query.weight`, ne: [nState, nState], type: w, init: 'random' },
    { name: `${prefix}.${attn}.query.bias`, ne: [nState], type: f32, init: 'zeros' },
    { name: `${prefix}.${attn}.key.weight`, ne: [nState, nState], type: w, init: 'random' },
    { name: `${prefix}.${attn}.value.weight`, ne: [nState, nState], type: w, init: 'random' },
    { name: `${prefix}.${attn}.value.bias`, ne: [nState], type: f32, init: 'zeros' },
    { name: `${prefix}.${attn}.out.weight`, ne: [nState, nState], type: w, init: 'random' },
    { name: `${prefix}.${attn}.out.bias`, ne: [nState], type: f32, init: 'zeros' },
  ];
  const mlp = (prefix: string): TensorSpec[] => [
    { name: `${prefix}.mlp_ln.weight`, ne: [nState], type: f32, init: 'ones' },
    { name: `${prefix}.mlp_ln.bias`, ne: [nState], type: f32, init: 'zeros' },
    { name: `${prefix}.mlp.0.weight`, ne: [nState, 4 * nState], type: w, init: 'random' },
    { name: `${prefix}.mlp.0.bias`, ne: [4 * nState], type: f32, init: 'zeros' },
    { name: `${prefix}.mlp.2.weight`, ne: [4 * nState, nState], type: w, init: 'random' },
    { name: `${prefix}.mlp.2.bias`, ne: [nState], type: f32, init: 'zeros' },
  ];
  for (let i = 0; i < nLayer; i++) {
    const prefix = `encoder.blocks.${i}`;
    tensors.push(...mlp(prefix), ...block(prefix, 'attn'));
  }
  tensors.push(
    { name: 'decoder.positional_embedding', ne: [nState, N_TEXT_CTX], type: f32, init: 'random' },
    { name: 'decoder.token_embedding.weight', ne: [nState, nVocab], type: w, init: 'random' },
    { name: 'decoder.ln.weight', ne: [nState], type: f32, init: 'ones' },
    { name: 'decoder.ln.bias', ne: [nState], type: f32, init: 'zeros' },
  );
  for (let i = 0; i < nLayer; i++) {
    const prefix = `decoder.blocks.${i}`;
    tensors.push(...mlp(prefix), ...block(prefix, 'attn'), ...block(prefix, 'cross_attn'));
  }
  return tensors;
}

/** Deterministic PRNG (mulberry32) so a given seed always writes the same file. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const f32scratch = new Float32Array(1);
const u32scratch = new Uint32Array(f32scratch.buffer);

/** IEEE 754 float32 → float16 bits (round to nearest; the values here are small and finite). */
export function toHalf(value: number): number {
  f32scratch[0] = value;
  const x = u32scratch[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = ((x >>> 23) & 0xff) - 127 + 15;
  const mantissa = x & 0x7fffff;
  if (exponent <= 0) return sign; // underflow to signed zero: fine for test weights
  if (exponent >= 31) return sign | 0x7c00;
  const rounded = (exponent << 10) | (mantissa >>> 13);
  return sign | (rounded + ((mantissa >>> 12) & 1));
}

/** Builds the model file's bytes. About 3.5 MB with the defaults. */
export function buildTinyModel(options: TinyModelOptions = {}): Buffer {
  const nVocab = options.nVocab ?? 51865;
  const nState = options.nState ?? 32;
  const nHead = options.nHead ?? 2;
  const nLayer = options.nLayer ?? 1;
  if (nState % nHead !== 0) throw new Error('nState must be divisible by nHead');
  const random = rng(options.seed ?? 1);
  const normal = (scale: number) => (random() + random() + random() - 1.5) * scale;
  const chunks: Buffer[] = [];
  const int32s = (...values: number[]) => {
    const b = Buffer.alloc(4 * values.length);
    values.forEach((value, i) => b.writeInt32LE(value, i * 4));
    chunks.push(b);
  };

  int32s(GGML_FILE_MAGIC);
  int32s(nVocab, N_AUDIO_CTX, nState, nHead, nLayer, N_TEXT_CTX, nState, nHead, nLayer, N_MELS, FTYPE_MOSTLY_F16);

  // Mel filters: triangular-ish positive weights so the log-mel spectrogram is not constant.
  int32s(N_MELS, N_FFT);
  const filters = Buffer.alloc(4 * N_MELS * N_FFT);
  for (let m = 0; m < N_MELS; m++) {
    const centre = ((m + 1) * (N_FFT - 1)) / (N_MELS + 1);
    for (let k = 0; k < N_FFT; k++) {
      filters.writeFloatLE(Math.max(0, 1 - Math.abs(k - centre) / 3), 4 * (m * N_FFT + k));
    }
  }
  chunks.push(filters);

  // Vocab: the 50256 ordinary tokens plus <|endoftext|>; whisper.cpp names the special ones itself.
  // Token 220 must be a lone space, as in GPT-2's vocabulary: whisper.cpp's blank suppression does
  // `token_to_id.at(" ")`, and the std::out_of_range it throws without one surfaces in whisper.node as
  // a transcription promise that never settles. Tokens 0–93 are the printable ASCII characters, as in
  // GPT-2, so any prompt can be tokenised; the rest are made-up words.
  const vocabCount = 50257;
  int32s(vocabCount);
  for (let i = 0; i < vocabCount; i++) {
    const text =
      i < 94
        ? String.fromCharCode(33 + i)
        : i === SPACE_TOKEN
          ? ' '
          : i === vocabCount - 1
            ? '<|endoftext|>'
            : ` w${i.toString(36)}`;
    const word = Buffer.from(text, 'utf8');
    int32s(word.length);
    chunks.push(word);
  }

  for (const tensor of tinyModelTensors(nState, nLayer, nVocab)) {
    const name = Buffer.from(tensor.name, 'utf8');
    int32s(tensor.ne.length, name.length, tensor.type, ...tensor.ne);
    chunks.push(name);
    const count = tensor.ne.reduce((a, b) => a * b, 1);
    const fill = (): number =>
      tensor.init === 'ones' ? 1 : tensor.init === 'zeros' ? 0 : normal(1 / Math.sqrt(tensor.ne[0]!));
    if (tensor.type === GGML_TYPE_F32) {
      const data = Buffer.alloc(4 * count);
      for (let i = 0; i < count; i++) data.writeFloatLE(fill(), 4 * i);
      chunks.push(data);
    } else {
      const data = Buffer.alloc(2 * count);
      for (let i = 0; i < count; i++) data.writeUInt16LE(toHalf(fill()), 2 * i);
      chunks.push(data);
    }
  }
  return Buffer.concat(chunks);
}

export function writeTinyModel(path: string, options: TinyModelOptions = {}): string {
  writeFileSync(path, buildTinyModel(options));
  return path;
}

/** A 16 kHz (or other rate) mono 16-bit WAV: a gliding tone with a little noise, faded in and out. */
export function writeTestWav(path: string, seconds: number, sampleRate = 16_000): string {
  const count = Math.round(seconds * sampleRate);
  const data = Buffer.alloc(44 + count * 2);
  data.write('RIFF', 0, 'ascii');
  data.writeUInt32LE(36 + count * 2, 4);
  data.write('WAVEfmt ', 8, 'ascii');
  data.writeUInt32LE(16, 16);
  data.writeUInt16LE(1, 20); // PCM
  data.writeUInt16LE(1, 22); // mono
  data.writeUInt32LE(sampleRate, 24);
  data.writeUInt32LE(sampleRate * 2, 28);
  data.writeUInt16LE(2, 32);
  data.writeUInt16LE(16, 34);
  data.write('data', 36, 'ascii');
  data.writeUInt32LE(count * 2, 40);
  const random = rng(7);
  for (let i = 0; i < count; i++) {
    const t = i / sampleRate;
    const envelope = Math.sin((Math.PI * i) / count);
    const tone = Math.sin(2 * Math.PI * (220 + 60 * t) * t);
    const value = 9000 * envelope * tone + 600 * (random() - 0.5);
    data.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(value))), 44 + i * 2);
  }
  writeFileSync(path, data);
  return path;
}
