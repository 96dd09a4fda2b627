import { readFileSync } from 'node:fs';
import { after, before, describe } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app.js';

/*
 * Shared by the test/http/*.test.ts suites that were one "http surface" suite: each file gets its
 * own app, started the same way, under the same suite name so the tests keep their full names.
 */

export const PKG_VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** The one origin the app's CORS settings allow. */
export const ALLOWED_ORIGIN = 'https://app.example';

/** A suite named 'http surface' around one app on PostgreSQL, allowing ALLOWED_ORIGIN, closed when the suite ends. */
export function describeHttpSurface(body: (t: () => TestApp) => void): void {
  describe('http surface', () => {
    let current: TestApp | undefined;
    before(async () => {
      current = await startTestApp('postgres', { CORS_ORIGINS: ALLOWED_ORIGIN });
    });
    after(async () => {
      await current?.close();
    });
    body(() => {
      if (!current) throw new Error('test app not started');
      return current;
    });
  });
}
