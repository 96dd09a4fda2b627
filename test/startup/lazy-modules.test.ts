import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/*
 * Optional backends' modules (tens of MB resident between them) must load only where they are
 * configured or used: the AWS SDK with S3_BUCKET, BullMQ, ioredis and bull-board with REDIS_URL,
 * an LLM SDK at its provider's first call, whisper's addon and the OpenAI SDK at a transcription
 * with those engines. A default app, with its queue running and requests answered, loads none.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// Builds the app through ../helpers/app.js on the test database, in a process of its own.
const CHILD = fileURLToPath(new URL('./default-app-child.ts', import.meta.url));

const FORBIDDEN_PACKAGES = ['@aws-sdk/', '@smithy/', 'bullmq', 'ioredis', '@bull-board/', 'openai', '@anthropic-ai/', '@fugood/', 'prom-client'];
const FORBIDDEN_SOURCES = [
  'src/storage/s3.ts',
  'src/jobs/bullmq-queue.ts',
  'src/jobs/redis.ts',
  'src/admin/queue-dashboard.ts',
  'src/chat/providers/openai.ts',
  'src/chat/providers/anthropic.ts',
  'src/transcription/engines/openai.ts',
  'src/transcription/engines/whisper.ts',
  'src/transcription/engines/whisper-native.ts',
];

/** `@scope/name` or `name` of a module under node_modules, else null. */
function packageOf(url: string): string | null {
  const at = url.lastIndexOf('/node_modules/');
  if (at < 0) return null;
  const [first, second] = url.slice(at + '/node_modules/'.length).split('/');
  return first?.startsWith('@') ? `${first}/${second}` : (first ?? null);
}

test('a default app loads none of the optional backends’ modules', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'transcribo-modules-'));
  try {
    const out = path.join(dir, 'resolved.txt');
    await promisify(execFile)(process.execPath, ['--import', 'tsx', CHILD, out], {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: '' },
      timeout: 120_000,
    });
    const urls = (await readFile(out, 'utf8')).split('\n').filter((line) => line !== '');
    const packages = new Set(urls.map(packageOf).filter((name): name is string => name !== null));
    const sources = new Set(
      urls.filter((url) => url.startsWith('file:')).map((url) => path.relative(ROOT, fileURLToPath(url)).split(path.sep).join('/')),
    );

    // Not vacuous: the record has what every start loads.
    assert.ok(packages.has('fastify') && packages.has('pg'), [...packages].join(' '));
    assert.ok(sources.has('src/app.ts') && sources.has('src/runtime.ts'));

    const loaded = [...packages].filter((name) => FORBIDDEN_PACKAGES.some((p) => (p.endsWith('/') ? name.startsWith(p) : name === p)));
    assert.deepEqual(loaded, [], `loaded by default: ${loaded.join(', ')}`);
    assert.deepEqual(
      FORBIDDEN_SOURCES.filter((source) => sources.has(source)),
      [],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
