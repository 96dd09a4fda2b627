import type { FastifyInstance } from 'fastify';
import { errors } from './errors.js';

/*
 * Values no field of this API can hold, refused with a 422 naming the field instead of failing
 * deeper down with a 500:
 * - U+0000: PostgreSQL text cannot store it. Checked before validation, on what the client sent.
 * - Non-finite numbers: ajv coerces a query (or form) value such as `Infinity` or `1e400` into an
 *   integer or number field and then skips that field's minimum and maximum, which it checks only
 *   for finite numbers; PostgreSQL refuses the value (`limit Infinity`). Checked after validation.
 */

const NUL = '\u0000';
const NUL_MESSAGE = 'must not contain the NUL character (U+0000)';
const NON_FINITE_MESSAGE = 'must be a finite number';

interface Frame {
  value: unknown;
  key: string;
  parent: Frame | null;
}

function pathOf(frame: Frame): string {
  const keys: string[] = [];
  for (let f: Frame | null = frame; f; f = f.parent) keys.push(f.key);
  return keys.reverse().join('.');
}

/**
 * The path of the first value (or key) under `value` that `bad` picks, or null. A walk with its
 * own stack: a body nested some ten thousand levels deep would overflow a recursive one (a 500).
 */
function firstBad(value: unknown, path: string, bad: { value(v: unknown): boolean; key(k: string): boolean }): string | null {
  const stack: Frame[] = [{ value, key: path, parent: null }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    if (frame.parent && bad.key(frame.key)) return pathOf(frame);
    const inner = frame.value;
    if (inner && typeof inner === 'object') {
      const entries = Array.isArray(inner) ? inner.map((v, i) => [String(i), v] as const) : Object.entries(inner);
      // Pushed last to first, so that they are visited in order.
      for (let i = entries.length - 1; i >= 0; i--) stack.push({ key: entries[i]![0], value: entries[i]![1], parent: frame });
    } else if (bad.value(inner)) {
      return pathOf(frame);
    }
  }
  return null;
}

const HOLDS_NUL = {
  value: (v: unknown) => typeof v === 'string' && v.includes(NUL),
  key: (k: string) => k.includes(NUL),
};
const NON_FINITE = { value: (v: unknown) => typeof v === 'number' && !Number.isFinite(v), key: () => false };

/** The path of the first string (or key) under `value` that holds a NUL, or null. */
export function fieldWithNul(value: unknown, path: string): string | null {
  return firstBad(value, path, HOLDS_NUL);
}

/** Throws the 422 for a field that holds a NUL. */
export function refuseNul(value: unknown, path: string): void {
  const field = fieldWithNul(value, path);
  if (field) throw errors.validation(`${field} ${NUL_MESSAGE}`, [{ field, message: NUL_MESSAGE }]);
}

function refuseNonFinite(value: unknown, path: string): void {
  const field = firstBad(value, path, NON_FINITE);
  if (field) throw errors.validation(`${field} ${NON_FINITE_MESSAGE}`, [{ field, message: NON_FINITE_MESSAGE }]);
}

/** Checks every parsed body, query string and path parameter, before and after validation. */
export function registerNulGuard(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    refuseNul(request.params, 'params');
    refuseNul(request.query, 'querystring');
    refuseNul(request.body, 'body');
  });
  app.addHook('preHandler', async (request) => {
    refuseNonFinite(request.params, 'params');
    refuseNonFinite(request.query, 'querystring');
    refuseNonFinite(request.body, 'body');
  });
}
