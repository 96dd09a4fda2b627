import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const API = process.env.TRANSCRIBO_API ?? 'http://127.0.0.1:8000';

/**
 * The console is built into dist/console, next to the compiled server, which serves it at `/`
 * (src/http/console.ts). `npm run console:dev` serves it with hot reload and sends API calls (and the
 * realtime socket) to a running server (TRANSCRIBO_API, default http://127.0.0.1:8000).
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  // Outside console/, whose file dates decide when the console is rebuilt (scripts/dist.js).
  cacheDir: fileURLToPath(new URL('../node_modules/.vite-console', import.meta.url)),
  // Preact's automatic JSX runtime; no plugin needed for that.
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    // The server's CSP allows only its own scripts: no inline module-preload polyfill.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
  server: {
    // /v1: the live screen's client secret and its realtime WebSocket.
    proxy: { '/api': API, '/openapi.json': API, '/v1': { target: API, ws: true } },
  },
});
