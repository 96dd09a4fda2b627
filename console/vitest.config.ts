import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * The console's component tests (`npm test` runs them before the node:test suites): components
 * rendered by Preact into happy-dom's document, no browser and no server.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  cacheDir: fileURLToPath(new URL('../node_modules/.vite-console-test', import.meta.url)),
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  test: {
    include: ['src/**/*.test.{ts,tsx}'],
    environment: 'happy-dom',
  },
});
