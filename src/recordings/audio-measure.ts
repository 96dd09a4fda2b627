/** How long an uploaded file is, found as cheaply as its format allows. */

import { measureAudio } from '../audio/decode.js';
import { checkDuration } from '../audio/duration-limit.js';
import { probeAudioHeader } from '../audio/header-probe.js';
import type { KnownHead } from '../audio/headers/file-window.js';
import type { ConcurrencyLimiter } from '../audio/limiter.js';

export interface MeasureOptions {
  ffmpeg: () => Promise<string>;
  /** Where the decodes that headers cannot spare wait for a slot. */
  decoders: ConcurrencyLimiter;
  /** MAX_AUDIO_DURATION_SECONDS. */
  maxSeconds: number;
  /** The file's first bytes and size, already seen while it was received. */
  known?: KnownHead;
}

/**
 * Seconds of audio in `file` (sniffed as `mime`). The container header answers for WAV, FLAC, MP3,
 * Ogg and MP4 without starting a process; anything else (WebM, a FLAC of unknown length…) is decoded
 * once by ffmpeg, through `decoders`, so a burst of uploads queues instead of forking a decoder each.
 * Rejects with AudioDecodeError for audio that is corrupt or empty, and with the 413
 * audio_too_long AppError for audio over `maxSeconds` (a decode stops there).
 */
export async function measureUpload(file: string, mime: string, options: MeasureOptions): Promise<number> {
  const { maxSeconds } = options;
  const fromHeader = await probeAudioHeader(file, mime, options.known);
  if (fromHeader !== null) {
    checkDuration(fromHeader, maxSeconds);
    return fromHeader;
  }
  const decoded = await options.decoders.run(async () => measureAudio(await options.ffmpeg(), file, { maxSeconds }));
  return decoded.durationSeconds;
}
