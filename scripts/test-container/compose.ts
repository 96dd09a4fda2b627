/**
 * compose.yaml through podman-compose: PostgreSQL and Redis (local stand-ins through POSTGRES_IMAGE
 * and REDIS_IMAGE), `migrate`, the API and two workers; a clip transcribed by a worker (the API runs
 * none), and /metrics scraped from the API and from each worker's own port.
 *
 * Debian's podman-compose (1.0.3) ignores `--scale`, `profiles` and `depends_on` conditions, so the
 * test starts the services by name, waits for health itself, and asks for two workers through
 * `deploy.replicas` in an override file (what `--scale worker=2` does with Docker Compose).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { composeDir } from './cleanup.js';
import { log, output, run } from './exec.js';
import { freePort } from './host.js';
import { clip, register, scrapeMetrics, transcribeClip, waitReady } from './api.js';
import { isRunning, showLogs, waitForLog, waitHealthy } from './podman.js';

export interface ComposeImages {
  app: string;
  postgres: string;
  redis: string;
}

const WORKERS = 2;
const WORKER_METRICS = "fetch('http://127.0.0.1:9464/metrics', { headers: { authorization: 'Bearer ' + process.env.METRICS_TOKEN } }).then((r) => r.text()).then((t) => process.stdout.write(t))";

/** Completed job runs a worker's /metrics reports (transcribo_jobs_total{outcome="completed"}). */
function completedJobs(metrics: string): number {
  return metrics
    .split('\n')
    .filter((line) => line.startsWith('transcribo_jobs_total{') && line.includes('outcome="completed"'))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

/** env.example as a user edits it into .env: each value set in place, or added at the end. */
function envFile(example: string, values: Record<string, string>): string {
  const rest = new Map(Object.entries(values));
  const lines = example.split('\n').map((line) => {
    const key = /^([A-Z][A-Z0-9_]*)=/.exec(line)?.[1];
    if (key === undefined || !rest.has(key)) return line;
    const value = rest.get(key)!;
    rest.delete(key);
    return `${key}=${value}`;
  });
  return [...lines, ...[...rest].map(([key, value]) => `${key}=${value}`), ''].join('\n');
}

export async function composeStack(root: string, images: ComposeImages, project: string): Promise<void> {
  const dir = composeDir(project);
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const token = randomBytes(24).toString('hex');
  // What a user puts in .env, with the stand-in images and a free port.
  const env = {
    POSTGRES_PASSWORD: randomBytes(18).toString('hex'),
    SECRET_KEY: randomBytes(32).toString('hex'),
    METRICS_TOKEN: token,
    ENVIRONMENT: 'production',
    STT_ENGINE: 'sphinx',
    TRANSCRIBO_IMAGE: images.app,
    POSTGRES_IMAGE: images.postgres,
    REDIS_IMAGE: images.redis,
    API_PORT: String(port),
  };
  await copyFile(path.join(root, 'compose.yaml'), path.join(dir, 'compose.yaml'));
  await writeFile(path.join(dir, '.env'), envFile(await readFile(path.join(root, 'env.example'), 'utf8'), env));
  await writeFile(path.join(dir, 'compose.test.yaml'), `services:\n  worker:\n    deploy:\n      replicas: ${WORKERS}\n`);
  const compose = (...args: string[]) =>
    run('podman-compose', ['-p', project, '-f', 'compose.yaml', '-f', 'compose.test.yaml', ...args], { cwd: dir });
  const containers = async (service: string) =>
    (await output('podman', ['ps', '-a', '--format', '{{.Names}}', '--filter', `label=io.podman.compose.project=${project}`, '--filter', `label=com.docker.compose.service=${service}`]))
      .split('\n')
      .filter(Boolean)
      .sort();

  try {
    await compose('up', '-d', '--no-build', 'db', 'redis');
    const [db] = await containers('db');
    const [redis] = await containers('redis');
    await Promise.all([waitHealthy(db!), waitHealthy(redis!)]);

    // `migrate`: applies the migrations to the compose database and exits.
    const [network] = (await output('podman', ['network', 'ls', '--format', '{{.Name}}', '--filter', `label=io.podman.compose.project=${project}`])).split('\n');
    const migrated = await output('podman', [
      'run', '--rm', '--network', network!, '-e', `DATABASE_URL=postgres://transcribo:${env.POSTGRES_PASSWORD}@db:5432/transcribo`, images.app, 'migrate',
    ]);
    assert.match(migrated, /applied [1-9]\d* migration/, `migrate printed: ${migrated}`);

    await compose('up', '-d', '--no-build', 'api', 'worker');
    const [api] = await containers('api');
    const workers = await containers('worker');
    assert.equal(workers.length, WORKERS, `worker containers: ${workers.join(', ')}`);
    const base = `http://127.0.0.1:${port}`;
    try {
      await waitReady(base, () => isRunning(api!));
      // .env reached the containers (env.example's ENVIRONMENT line, edited in place).
      assert.equal(await output('podman', ['exec', api!, 'printenv', 'ENVIRONMENT']), 'production');
      await Promise.all(workers.map((worker) => waitForLog(worker, /"msg":"worker ready"/)));
      await Promise.all(workers.map((worker) => waitHealthy(worker)));

      const auth = await register(base);
      const done = await transcribeClip(base, auth, clip('0920'));
      log(`compose: pocketsphinx heard "${done.text}"`);

      await scrapeMetrics(base, token);
      const perWorker = await Promise.all(workers.map(async (worker) => completedJobs(await output('podman', ['exec', worker, 'node', '-e', WORKER_METRICS]))));
      log(`compose: completed jobs per worker ${perWorker.join(', ')}`);
      assert.equal(perWorker.reduce((a, b) => a + b, 0), 1, 'one worker ran the transcription, and says so on its /metrics');
    } catch (error) {
      for (const name of [api!, ...workers]) await showLogs(name, 25);
      throw error;
    }
  } finally {
    await compose('down', '-v').catch(() => undefined);
  }
}
