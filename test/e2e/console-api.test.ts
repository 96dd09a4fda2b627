/**
 * The console's side of the server, without a browser: its typed API client is generated from the
 * app's current /openapi.json, and `/` answers the console's page to browsers and JSON to everyone
 * else (and `/api` always JSON).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import Fastify from 'fastify';
import { consoleApiTypes, SCHEMA_FILE } from '../../scripts/console-api.js';
import { registerConsole } from '../../src/http/console.js';
import { describeEachDatabase } from '../helpers/app.js';
import { ROOT } from '../helpers/server-process.js';

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';

test('console/src/api/schema.d.ts matches the app’s OpenAPI document (else: npm run console:api)', async () => {
  const expected = await consoleApiTypes();
  const committed = readFileSync(SCHEMA_FILE, 'utf8');
  assert.ok(committed === expected, 'console/src/api/schema.d.ts is out of date: run `npm run console:api` and commit it');
});

before(() => {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.js'), '--console'], { cwd: ROOT, stdio: 'inherit' });
});

describeEachDatabase('the console at /', (ctx) => {
  test('a browser gets the console’s page, with its own assets allowed by the CSP', async () => {
    const { app } = ctx();
    const page = await app.inject({ method: 'GET', url: '/', headers: { accept: BROWSER_ACCEPT } });
    assert.equal(page.statusCode, 200);
    assert.match(page.headers['content-type'] as string, /^text\/html/);
    assert.equal(page.headers.vary, 'accept');
    assert.match(page.body, /<div id="app"><\/div>/);
    const csp = page.headers['content-security-policy'] as string;
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /media-src 'self' blob:/);

    const scripts = [...page.body.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    assert.ok(scripts.some((url) => url.endsWith('.js')) && scripts.some((url) => url.endsWith('.css')), page.body);
    for (const url of scripts) {
      const asset = await app.inject({ method: 'GET', url });
      assert.equal(asset.statusCode, 200, url);
      assert.match(asset.headers['content-type'] as string, url.endsWith('.js') ? /javascript/ : /text\/css/);
      assert.match(asset.headers['cache-control'] as string, /immutable/);
    }
    // Nothing from another origin: no CDN scripts, styles or fonts.
    assert.doesNotMatch(page.body, /https?:\/\//);
    assert.equal((await app.inject({ method: 'GET', url: '/assets/nothing.js' })).statusCode, 404);
  });

  test('JSON for clients that ask for it, for clients that name no type, and always at /api', async () => {
    const { app } = ctx();
    for (const [url, accept] of [
      ['/', 'application/json'],
      ['/', undefined],
      ['/', '*/*'],
      ['/', 'application/json, text/html'],
      ['/api', BROWSER_ACCEPT],
      ['/api/', undefined],
    ] as const) {
      const res = await app.inject({ method: 'GET', url, headers: accept ? { accept } : {} });
      assert.equal(res.statusCode, 200, `${url} ${accept}`);
      assert.match(res.headers['content-type'] as string, /^application\/json/, `${url} ${accept}`);
      const body = res.json();
      assert.equal(body.name, 'Transcribo');
      assert.equal(body.docs, '/docs');
      assert.equal(body.console, '/');
    }
  });
});

test('without a built console a browser gets the JSON description', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'transcribo-no-console-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'README'), 'no index.html here\n');
  const app = Fastify();
  await registerConsole(app, { version: '9.9.9', dir });
  const res = await app.inject({ method: 'GET', url: '/', headers: { accept: BROWSER_ACCEPT } });
  assert.equal(res.statusCode, 200);
  assert.equal(res.json().version, '9.9.9');
  await app.close();
});
