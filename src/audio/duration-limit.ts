/** MAX_AUDIO_DURATION_SECONDS, as refused at upload (from the header) and while decoding. */

import { AppError } from '../http/errors.js';

/** 413 audio_too_long; `seconds` when the length is known (from a header), else "longer than". */
export function audioTooLong(limitSeconds: number, seconds?: number): AppError {
  const length = seconds === undefined ? 'longer than the limit of' : `${Math.round(seconds)} s long; the limit is`;
  return new AppError('audio_too_long', `The audio is ${length} ${limitSeconds} s on this server`);
}

/** Throws audio_too_long when `seconds` is over the limit. */
export function checkDuration(seconds: number, limitSeconds: number): void {
  if (seconds > limitSeconds) throw audioTooLong(limitSeconds, seconds);
}
