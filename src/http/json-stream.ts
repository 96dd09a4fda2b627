import { Readable } from 'node:stream';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

/** Work done between two yields: a 10 MB transcript must not hold the event loop in one piece. */
const SLICE_MS = 10;
/** Text gathered before it is handed to the socket. */
const CHUNK_CHARS = 64 * 1024;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return (proto === Object.prototype || proto === null) && typeof (value as { toJSON?: unknown }).toJSON !== 'function';
}

/**
 * The JSON text of `value`, piece by piece: objects are walked key by key and arrays element by
 * element, and each element is stringified whole (elements such as segments are small).
 */
function* pieces(value: unknown): Generator<string> {
  if (Array.isArray(value)) {
    yield '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) yield ',';
      yield JSON.stringify(value[i] ?? null);
    }
    yield ']';
    return;
  }
  if (isPlainObject(value)) {
    yield '{';
    let first = true;
    for (const [key, item] of Object.entries(value)) {
      if (item === undefined || typeof item === 'function') continue;
      yield `${first ? '' : ','}${JSON.stringify(key)}:`;
      first = false;
      yield* pieces(item);
    }
    yield '}';
    return;
  }
  if (typeof value === 'string' && value.length > STRING_SLICE_CHARS) {
    yield* longString(value);
    return;
  }
  yield JSON.stringify(value) ?? 'null';
}

/** Longest string escaped in one go: JSON.stringify of a 10 MB string takes ~80 ms. */
const STRING_SLICE_CHARS = 256 * 1024;

/** A long string's JSON, slice by slice; a slice never ends between the two halves of a surrogate pair. */
function* longString(value: string): Generator<string> {
  yield '"';
  for (let from = 0; from < value.length; ) {
    let to = Math.min(value.length, from + STRING_SLICE_CHARS);
    const last = value.charCodeAt(to - 1);
    if (to < value.length && last >= 0xd800 && last <= 0xdbff) to += 1;
    yield JSON.stringify(value.slice(from, to)).slice(1, -1);
    from = to;
  }
  yield '"';
}

async function* chunks(value: unknown): AsyncGenerator<string> {
  let buffered = '';
  let sliceStart = performance.now();
  for (const piece of pieces(value)) {
    buffered += piece;
    if (buffered.length >= CHUNK_CHARS) {
      yield buffered;
      buffered = '';
    }
    if (performance.now() - sliceStart > SLICE_MS) {
      await yieldToEventLoop();
      sliceStart = performance.now();
    }
  }
  if (buffered !== '') yield buffered;
}

/**
 * A large JSON body as a stream that yields to the event loop while it is written, so one big
 * transcript cannot stall every other request. Only for values already in their documented shape:
 * the route's response serializer does not see a stream.
 */
export function jsonStream(value: unknown): Readable {
  return Readable.from(chunks(value), { objectMode: false });
}
