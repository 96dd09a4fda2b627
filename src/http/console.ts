import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';

/**
 * The web console (console/, built by Vite into dist/console) at `/`, and the API's own
 * description as JSON at `/` for clients that ask for JSON and always at `/api`.
 * The same path from src/http (tsx) and dist/http (compiled): both are two levels below the root.
 */
export const CONSOLE_DIR = fileURLToPath(new URL('../../dist/console/', import.meta.url));

export interface ConsoleOptions {
  version: string;
  /** The built console; a folder without index.html means none is built, and `/` answers JSON. */
  dir?: string;
}

const RootSchema = Type.Object({
  name: Type.String(),
  version: Type.String(),
  description: Type.String(),
  docs: Type.String(),
  openapi: Type.String(),
  health: Type.String(),
  console: Type.String(),
});

/**
 * A browser asking for a page lists text/html (its navigations send
 * `text/html,application/xhtml+xml,…`); fetch, curl and the API's clients send `*` or JSON.
 */
export function wantsHtml(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? '';
  const html = accept.search(/\btext\/html\b/);
  const json = accept.search(/\bapplication\/json\b/);
  return html >= 0 && (json < 0 || html < json);
}

export async function registerConsole(app: FastifyInstance, options: ConsoleOptions): Promise<void> {
  const dir = options.dir ?? CONSOLE_DIR;
  const indexFile = path.join(dir, 'index.html');
  const assets = path.join(dir, 'assets');
  if (existsSync(assets)) {
    await app.register(fastifyStatic, {
      root: assets,
      prefix: '/assets/',
      // Vite puts a content hash in every asset's name: a changed file is a new URL.
      immutable: true,
      maxAge: '365d',
      // swagger-ui registers this plugin too; the console needs no reply.sendFile of its own.
      decorateReply: false,
      index: false,
      list: false,
    });
  }

  const describe = () => ({
    name: 'Transcribo',
    version: options.version,
    description: 'Self-hostable speech-to-text and LLM chat over transcripts.',
    docs: '/docs',
    openapi: '/openapi.json',
    health: '/api/v1/health/',
    console: '/',
  });

  app.get(
    '/',
    {
      schema: {
        summary: 'The web console for browsers; what this service is and where its docs are for everyone else',
        description:
          'Answers the console\'s HTML page when the Accept header prefers text/html (a browser) and the console is built; otherwise this JSON, which GET /api also answers.',
        tags: ['meta'],
        response: { 200: RootSchema },
      },
    },
    async (request, reply) => {
      void reply.header('vary', 'accept');
      if (wantsHtml(request)) {
        // Read at each request: it is small, and it must name the assets of the build on disk now.
        const html = await readFile(indexFile).catch(() => null);
        if (html) return reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(html);
      }
      return describe();
    },
  );
  app.get('/api', { schema: { hide: true, response: { 200: RootSchema } } }, async () => describe());
}
