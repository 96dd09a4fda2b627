import { AppError } from '../http/errors.js';
import type { BlobRange } from '../storage/blob-store.js';

/**
 * One byte range from a Range header (RFC 9110), or undefined to send the whole file. Several
 * ranges, other units and malformed headers are ignored as the RFC allows; a range that starts
 * past the end is 416.
 */
export function parseRange(header: string | undefined, size: number): BlobRange | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  const [, first, last] = match;
  let start: number;
  let end: number;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) throw unsatisfiable(size);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(first);
    if (start >= size) throw unsatisfiable(size);
    end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
    if (end < start) return undefined;
  }
  return { start, end };
}

function unsatisfiable(size: number): AppError {
  return new AppError('range_not_satisfiable', `The file has ${size} bytes`, undefined, {
    'content-range': `bytes */${size}`,
  });
}
