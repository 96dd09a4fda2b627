import type { LogFn } from '../models/download.js';
import { EngineError } from './engine.js';
import { Lock } from './whisper-lock.js';
import { readModelHeader, type ModelHeader } from './whisper-model-header.js';
import type { LoadedNative, NativeWhisperContext } from './whisper-native.js';

export interface LoadedModel {
  context: NativeWhisperContext;
  path: string;
  header: ModelHeader;
  multilingual: boolean;
  /** Languages the model has tokens for: 99, or 100 for large-v3 (adds yue). */
  languageCount: number;
  lock: Lock;
}

/** Loads a model file into a whisper.cpp context; its header tells which languages it knows. */
export async function createContext(modelPath: string, native: LoadedNative, log: LogFn): Promise<LoadedModel> {
  const header = await readModelHeader(modelPath);
  const started = Date.now();
  let context: NativeWhisperContext;
  try {
    // Synchronous: whisper.cpp reads the whole model on this thread.
    context = new native.module.WhisperContext({ filePath: modelPath, useGpu: native.gpu });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new EngineError(
      `Could not load the whisper model ${modelPath}: whisper.cpp refused it (${reason}). The file may be ` +
        'corrupt or truncated, or not a whisper.cpp ggml model; delete it to download a named model again, ' +
        'or point WHISPER_MODEL at a good file.',
      'model_unavailable',
      { cause: error },
    );
  }
  log('info', `loaded whisper model ${modelPath} in ${Date.now() - started} ms (${native.packageName})`);
  const multilingual = header.nVocab >= 51865;
  return {
    context,
    path: modelPath,
    header,
    multilingual,
    languageCount: multilingual ? header.nVocab - 51765 - 1 : 1,
    lock: new Lock(),
  };
}
