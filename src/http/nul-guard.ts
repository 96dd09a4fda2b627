import type { FastifyInstance } from 'fastify';
import { errors } from './errors.js';

/*
 * PostgreSQL text cannot hold U+0000: a NUL that reaches a query fails it with a 500. It is never
 * meaningful in a field of this API, so it is refused up front, naming the field.
 */

const NUL = '\u0000';
const MESSAGE = 'must not contain the NUL character (U+0000)';

/** The path of the first string under `value` that holds a NUL, or null. */
export function fieldWithNul(value: unknown, path: string): string | null {
  if (typeof value === 'string') return value.includes(NUL) ? path : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = fieldWithNul(value[i], `${path}.${i}`);
      if (found) return found;
    }
    return null;
  }
  if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      const found = key.includes(NUL) ? `${path}.${key}` : fieldWithNul(inner, `${path}.${key}`);
      if (found) return found;
    }
  }
  return null;
}

/** Throws the 422 for a field that holds a NUL. */
export function refuseNul(value: unknown, path: string): void {
  const field = fieldWithNul(value, path);
  if (field) throw errors.validation(`${field} ${MESSAGE}`, [{ field, message: MESSAGE }]);
}

/** Checks every parsed body, query string and path parameter before validation runs. */
export function registerNulGuard(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    refuseNul(request.params, 'params');
    refuseNul(request.query, 'querystring');
    refuseNul(request.body, 'body');
  });
}
