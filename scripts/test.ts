/**
 * `npm test` (everything but the browser suites), `npm run test:unit` (no database, seconds; with the
 * console's Vitest component tests), `npm run test:integration`, and `npm run test:browser`: the
 * console's suites in Debian's chromium (they need the chromium package, as test:container needs podman).
 * The database suites need a PostgreSQL server: TEST_DATABASE_URL, else the one at
 * 127.0.0.1:5432 if it answers, else (outside CI) an embedded one kept in the system temp folder.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/db/embedded/cluster.js';
import { runFiles, summarize } from './test-pool.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/test';
const which = process.argv[2] ?? 'all';
if (!['all', 'unit', 'integration', 'browser'].includes(which)) {
  throw new Error(`unknown test set ${which}: all, unit, integration or browser`);
}
/** A browser suite drives the console in chromium (test/helpers/console-browser.ts). */
const BROWSER = /helpers\/console-browser\.js/;

/** A file is an integration test when it reaches a database, Redis, a server process or the network of helpers. */
const INTEGRATION = /helpers\/(app|databases|jobs|server-process|redis|redis-server|factory)\.js|src\/db\//;

/** A test file's text with that of the modules next to it that it imports (its fixtures), whatever their names. */
function sourceWithFixtures(file: string): string {
  const source = readFileSync(file, 'utf8');
  const fixtures = [...source.matchAll(/from '\.\/([\w.-]+)\.js'/g)]
    .map((match) => path.join(path.dirname(file), `${match[1]}.ts`))
    .filter((fixture) => existsSync(fixture));
  return [source, ...fixtures.map((fixture) => readFileSync(fixture, 'utf8'))].join('\n');
}

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return testFiles(full);
      return entry.name.endsWith('.test.ts') ? [full] : [];
    })
    .sort();
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function databaseFor(): Promise<{ url: string; embedded: EmbeddedPostgres | null }> {
  if (process.env.TEST_DATABASE_URL) return { url: process.env.TEST_DATABASE_URL, embedded: null };
  if (await answers(DEFAULT_URL)) return { url: DEFAULT_URL, embedded: null };
  if (process.env.CI) throw new Error(`CI is set and no PostgreSQL answers at ${DEFAULT_URL} (set TEST_DATABASE_URL)`);
  const quiet = { info: () => undefined, warn: (details: object, message: string) => console.warn(message, details) };
  const embedded = await startEmbeddedPostgres(path.join(tmpdir(), 'transcribo-test-database'), quiet);
  console.log('No PostgreSQL at 127.0.0.1:5432: the tests run on an embedded one.');
  const url = new URL(embedded.url);
  url.pathname = '/postgres';
  return { url: url.toString(), embedded };
}

/*
 * The end-to-end suites are the longest (20–50 s each): started first, they run beside the many
 * short files instead of one of them starting last while the other worker idles.
 */
const e2eFirst = (a: string, b: string) => Number(!a.includes(`${path.sep}e2e${path.sep}`)) - Number(!b.includes(`${path.sep}e2e${path.sep}`));
const files = testFiles(path.join(ROOT, 'test'))
  .filter((file) => {
    const source = sourceWithFixtures(file);
    if (BROWSER.test(source) !== (which === 'browser')) return false;
    if (which === 'all' || which === 'browser') return true;
    return INTEGRATION.test(source) === (which === 'integration');
  })
  .sort(e2eFirst);
// Built once here, so that end-to-end suites running side by side never compile dist/ at once.
const build = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.js'), '--if-stale'], { cwd: ROOT, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
const { url, embedded } = which === 'unit' ? { url: DEFAULT_URL, embedded: null } : await databaseFor();
/*
 * Three files at a time on two cores: most suites wait on processes, sockets and real-time audio
 * more than they compute (measured: 499 s at 2, 418 s at 3 on 2 cores; on 2026-11-30, 283 s at 3
 * and 268 s at 4, the files then taking 25% longer each, so 3 stays). TEST_CONCURRENCY overrides.
 * A file whose header says `@run-alone` measures latency: it runs afterwards, by itself, so that
 * what it measures is the server's and not the other suites'.
 */
const alone = files.filter((file) => readFileSync(file, 'utf8').includes('@run-alone'));
const together = files.filter((file) => !alone.includes(file));
async function runTests(batch: string[], concurrency: string): Promise<number> {
  const started = performance.now();
  const results = await runFiles(batch, Number(concurrency), ROOT, { ...process.env, TEST_DATABASE_URL: url });
  summarize(results, (performance.now() - started) / 1000);
  return results.some((r) => r.code !== 0) ? 1 : 0;
}
/** The console's component tests (Vitest in happy-dom, console/vitest.config.ts): part of the unit set, seconds. */
function runComponentTests(): Promise<number> {
  if (which === 'integration' || which === 'browser') return Promise.resolve(0);
  const vitest = path.join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');
  const run = spawn(process.execPath, [vitest, 'run', '--config', path.join(ROOT, 'console', 'vitest.config.ts')], { cwd: ROOT, stdio: 'inherit' });
  return new Promise<number>((resolve) => run.once('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
}
const componentCode = await runComponentTests();
const togetherCode = await runTests(together, process.env.TEST_CONCURRENCY ?? (which === 'browser' ? '2' : '3'));
const code = (await runTests(alone, '1')) || togetherCode || componentCode;
await embedded?.stop();
process.exit(code);
