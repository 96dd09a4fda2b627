import { open, type FileHandle } from 'node:fs/promises';
import { EngineError } from './engine.js';

const GGML_FILE_MAGIC = 0x67676d6c;

export interface ModelHeader {
  nVocab: number;
  nAudioLayer: number;
  nTextState: number;
  ftype: number;
}

/**
 * Reads and sanity-checks a ggml model's header before whisper.cpp sees it: random bytes or a
 * truncated download get a clear message instead of native log noise (or, for a file cut inside its
 * vocabulary, an "empty model for testing" that loads without weights).
 */
export async function readModelHeader(modelPath: string): Promise<ModelHeader> {
  const bad = (why: string) =>
    new EngineError(
      `The whisper model ${modelPath} cannot be used: ${why}. The file may be corrupt or truncated, or not a ` +
        'whisper.cpp ggml model; delete it to download a named model again, or point WHISPER_MODEL at a good file.',
      'model_unavailable',
    );
  let handle: FileHandle | undefined;
  try {
    handle = await open(modelPath, 'r');
    const size = (await handle.stat()).size;
    const buffer = Buffer.alloc(48);
    const { bytesRead } = await handle.read(buffer, 0, 48, 0);
    if (bytesRead < 48) throw bad(`it is only ${size} bytes long`);
    if (buffer.readUInt32LE(0) !== GGML_FILE_MAGIC) throw bad('it does not start with the ggml magic number');
    const values = Array.from({ length: 11 }, (_, i) => buffer.readInt32LE(4 + 4 * i));
    const [nVocab, nAudioCtx, nAudioState, nAudioHead, nAudioLayer, nTextCtx, nTextState, nTextHead, nTextLayer, nMels] =
      values as [number, number, number, number, number, number, number, number, number, number];
    const ftype = values[10]! % 1000;
    const sane =
      nVocab >= 51864 && nVocab <= 52000 &&
      nAudioCtx > 0 && nAudioCtx <= 1500 && nTextCtx > 0 && nTextCtx <= 4096 &&
      nAudioState > 0 && nAudioState <= 8192 && nAudioState === nTextState &&
      nAudioHead > 0 && nAudioState % nAudioHead === 0 && nTextHead > 0 && nTextState % nTextHead === 0 &&
      nAudioLayer > 0 && nAudioLayer <= 128 && nTextLayer > 0 && nTextLayer <= 128 &&
      nMels > 0 && nMels <= 256 && ftype >= 0 && ftype < 64;
    if (!sane) throw bad(`its header is not a whisper model's (${values.join(', ')})`);
    // The token embedding alone is n_vocab × n_state weights of at least half a byte each.
    const minimum = nVocab * nTextState * 0.5;
    if (size < minimum) throw bad(`it is ${size} bytes long, too short to hold the model's weights`);
    return { nVocab, nAudioLayer, nTextState, ftype };
  } catch (error) {
    if (error instanceof EngineError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new EngineError(
      code === 'ENOENT'
        ? `The whisper model file ${modelPath} does not exist.`
        : `The whisper model file ${modelPath} cannot be read: ${(error as Error).message}`,
      'model_unavailable',
      { cause: error },
    );
  } finally {
    await handle?.close().catch(() => {});
  }
}
