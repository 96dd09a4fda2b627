import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, type Config, type Env } from '../../src/config.js';

export const TEST_SECRET = 'test-secret-key-that-is-long-enough-for-hs256';

/** A Config for tests: no process.env, a throwaway DATA_DIR, limits high enough not to interfere. */
export function testConfig(overrides: Env = {}): Config {
  return loadConfig(
    {
      ENVIRONMENT: 'test',
      SECRET_KEY: TEST_SECRET,
      DATA_DIR: mkdtempSync(path.join(tmpdir(), 'transcribo-test-')),
      RATE_LIMIT_MAX: '100000',
      AUTH_RATE_LIMIT_MAX: '100000',
      // The one engine that runs offline with a real model on every test machine.
      STT_ENGINE: 'sphinx',
      ...overrides,
    },
    { persistSecret: false },
  );
}
