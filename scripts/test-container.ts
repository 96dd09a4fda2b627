/**
 * `npm run test:container`: builds the Dockerfile with podman from locally made base images (no
 * image registry needed), runs it on the embedded default, then brings compose.yaml up with
 * podman-compose, and removes every container, volume and network it made, whatever happens.
 * Needs root (apt-get, debootstrap, podman). Base images are cached per machine under
 * TRANSCRIBO_CI_CACHE (default /var/cache/transcribo-ci) and in podman's own store.
 */
import { fileURLToPath } from 'node:url';
import { ensureNodeBase, ensureStandIns, NODE_IMAGE, POSTGRES_IMAGE, REDIS_IMAGE } from './test-container/base-images.js';
import { RUN_NAME, removeRun, sweepDeadRuns } from './test-container/cleanup.js';
import { composeStack } from './test-container/compose.js';
import { embeddedDefault } from './test-container/embedded.js';
import { killRunning, log, run, Timings } from './test-container/exec.js';
import { ensurePackages, requireRoot } from './test-container/host.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CACHE = process.env.TRANSCRIBO_CI_CACHE ?? '/var/cache/transcribo-ci';
const APP_IMAGE = 'localhost/transcribo:container-test';

async function buildApp(): Promise<void> {
  await run('podman', [
    'build', '--format', 'docker', '--pull=never',
    '--build-arg', `NODE_IMAGE=${NODE_IMAGE}`, '--build-arg', 'WITH_POCKETSPHINX=true',
    '-t', APP_IMAGE, ROOT,
  ]);
}

async function main(): Promise<void> {
  requireRoot();
  const timings = new Timings();
  let outcome = 'failed';
  // Ctrl-C or a CI timeout: still remove what this run started.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: removing this run's containers and volumes`);
      killRunning();
      void removeRun(RUN_NAME).finally(() => process.exit(130));
    });
  }
  try {
    await timings.step('podman and its settings', ensurePackages);
    await timings.step('leftovers of earlier runs', sweepDeadRuns);
    await timings.step('base images (Debian, Node 20)', () => ensureNodeBase(CACHE, ROOT));
    // The stand-ins build while the app does: both mostly wait on the network.
    await timings.step('app image + PostgreSQL and Redis stand-ins', () => Promise.all([buildApp(), ensureStandIns(ROOT)]));
    await timings.step('embedded default: docker run, transcribe, restart', () => embeddedDefault(APP_IMAGE, RUN_NAME));
    await timings.step('compose: db, redis, migrate, api, 2 workers, metrics', () =>
      composeStack(ROOT, { app: APP_IMAGE, postgres: POSTGRES_IMAGE, redis: REDIS_IMAGE }, RUN_NAME),
    );
    outcome = 'passed';
  } finally {
    await timings.step('teardown', () => removeRun(RUN_NAME));
    timings.report(outcome);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
});
