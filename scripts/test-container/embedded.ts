/**
 * The image on its own, as the README's one command runs it (`docker run -p 8000:8000 -v data:/data`):
 * the embedded PostgreSQL as the image's non-root user, a LibriVox clip through pocketsphinx, a
 * clean stop on SIGTERM, the data still there after a restart, and a second container on the same
 * volume refused.
 */
import assert from 'node:assert/strict';
import { log, output, run } from './exec.js';
import { freePort } from './host.js';
import { clip, register, speechRegions, transcribeClip, waitReady } from './api.js';
import { exitCode, isRunning, showLogs, waitHealthy } from './podman.js';

export async function embeddedDefault(image: string, runName: string): Promise<void> {
  const name = `${runName}-embedded`;
  const volume = `${runName}-data`;
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  await run('podman', ['volume', 'create', volume]);
  await run('podman', ['run', '-d', '--name', name, '-p', `127.0.0.1:${port}:8000`, '-v', `${volume}:/data`, image]);
  try {
    await waitReady(base, () => isRunning(name));
    await waitHealthy(name);
    const uid = await output('podman', ['exec', name, 'id', '-u']);
    assert.notEqual(uid, '0', 'the API runs as a non-root user');

    const auth = await register(base);
    const done = await transcribeClip(base, auth, clip('0870'));
    log(`embedded: pocketsphinx heard "${done.text}"`);
    const regions = await speechRegions(base, auth, done.recordingId);
    log(`embedded: Silero VAD found speech at ${regions.map((r) => `${r.start}–${r.end} s`).join(', ')}`);

    // SIGTERM through tini: a graceful stop (exit 0), the embedded PostgreSQL shut down with it.
    await run('podman', ['stop', '-t', '30', name]);
    assert.equal(await exitCode(name), 0, 'exit code after podman stop');
    await run('podman', ['start', name]);
    await waitReady(base, () => isRunning(name));
    const list = await fetch(`${base}/api/v1/audio/`, { headers: auth });
    const body = (await list.json()) as { items?: unknown[] };
    assert.equal(list.status, 200);
    assert.equal(body.items?.length, 1, 'the recording survived the restart (same volume, same secret key)');

    // A second container on the same volume cannot see the first one's processes (another pid
    // namespace), so only the folder's flock stops it from starting a second server on the files.
    const second = await run('podman', ['run', '--rm', '--name', `${name}-second`, '-v', `${volume}:/data`, image], {
      allowFailure: true,
      timeoutMs: 120_000,
    });
    assert.equal(second.code, 1, `a second container on the same volume must refuse to start:\n${second.stdout}${second.stderr}`);
    assert.match(second.stdout + second.stderr, /started by a process this one cannot see/);
    const still = await fetch(`${base}/api/v1/health/readiness`);
    assert.equal(still.status, 200, 'the first container keeps its database');
  } catch (error) {
    await showLogs(name);
    throw error;
  } finally {
    // Not needed by the compose part; the volume goes at teardown.
    await run('podman', ['rm', '-f', '-t', '5', name], { allowFailure: true });
  }
}
