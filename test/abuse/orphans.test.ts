/**
 * kill -9 leaves no orphans: engine and ffmpeg children die with the process that started them,
 * and the temp folders of a dead process are removed at the next start.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { JOB_TEMP, ownedPrefix, removeLeftovers, UPLOAD_TEMP } from '../../src/process/leftovers.js';
import { deathSignalLauncher } from '../../src/process/spawn.js';
import { audioForm, librivoxClips } from '../helpers/audio.js';
import { createTestDatabase } from '../helpers/databases.js';
import { isAlive, runningProcesses } from '../helpers/processes.js';
import {
  call,
  SERVER_FROM_SOURCE,
  spawnChild,
  startServer,
  stopServer,
  tempDir,
  waitForExit,
  waitUntil,
  type RunningServer,
} from '../helpers/server-process.js';

const CHILD = fileURLToPath(new URL('./spawn-tied-child.ts', import.meta.url));
/** Generous for a busy machine: the kernel kills a tied child at once, init reaps it soon after. */
const DEATH_TIMEOUT_MS = 15_000;

/** Starts spawn-tied-child.ts and waits until its `sleep` runs; returns both pids. */
async function parentWithSleeper(mode: 'tied' | 'plain') {
  const args = [...SERVER_FROM_SOURCE.slice(0, 2), CHILD, ...(mode === 'plain' ? ['plain'] : [])];
  const parent = spawnChild(args, {}, tempDir('tied-cwd'));
  const sleeper = await waitUntil('the child prints its sleeper', () => {
    const match = /sleeper (\d+)/.exec(parent.output());
    return match ? Number(match[1]) : undefined;
  });
  // Once it is `sleep`, setpriv has set the death signal and exec'd.
  await waitUntil('the sleeper runs', () => runningProcesses().some((p) => p.pid === sleeper && /^(\S*\/)?sleep\b/.test(p.cmdline)), 10_000);
  return { parent, sleeper };
}

test('this system can tie children to their parent (setpriv --pdeathsig)', () => {
  assert.ok(deathSignalLauncher(), 'setpriv from util-linux >= 2.33 is expected on the Debian test machines');
});

test('a child started with spawnTied dies when its parent is killed with SIGKILL', async () => {
  const { parent, sleeper } = await parentWithSleeper('tied');
  parent.proc.kill('SIGKILL');
  await waitForExit(parent);
  await waitUntil(`the tied sleeper ${sleeper} is dead`, () => !isAlive(sleeper), DEATH_TIMEOUT_MS);
});

test('control: a plainly spawned child outlives its killed parent (what spawnTied prevents)', async () => {
  const { parent, sleeper } = await parentWithSleeper('plain');
  parent.proc.kill('SIGKILL');
  await waitForExit(parent);
  try {
    assert.equal(isAlive(sleeper), true);
  } finally {
    process.kill(sleeper, 'SIGKILL');
  }
});

test('removeLeftovers removes the entries of dead or unknown owners, and keeps the living ones', async () => {
  const dir = tempDir('leftovers');
  // A pid that has certainly exited: a child we waited for.
  const dead = spawnChild(['-e', ''], {}, dir);
  await waitForExit(dead);
  const deadPid = dead.proc.pid!;
  const entries = {
    ours: `${ownedPrefix(JOB_TEMP)}aB3dE9`,
    dead: `${JOB_TEMP.prefix}${deadPid}-aB3dE9`,
    legacy: 'transcribo-job-Xy12Zw',
    unrelated: 'transcribo-jobs-are-not-ours',
    parentAlive: `${JOB_TEMP.prefix}${process.ppid}-Qw12Er`,
  };
  for (const name of Object.values(entries)) {
    await mkdir(path.join(dir, name));
    await writeFile(path.join(dir, name, 'source'), 'x');
  }
  const uploads = {
    dead: `${UPLOAD_TEMP.prefix}${deadPid}-0b8a7a52-5d54-4a0f-9d1c-6f1f0f6a2c11`,
    legacy: '0b8a7a52-5d54-4a0f-9d1c-6f1f0f6a2c11.upload',
    ours: `${ownedPrefix(UPLOAD_TEMP)}0b8a7a52-5d54-4a0f-9d1c-6f1f0f6a2c11`,
  };
  for (const name of Object.values(uploads)) await writeFile(path.join(dir, name), 'x');

  assert.deepEqual((await removeLeftovers(dir, JOB_TEMP)).sort(), [entries.dead, entries.legacy].sort());
  assert.deepEqual((await removeLeftovers(dir, UPLOAD_TEMP)).sort(), [uploads.dead, uploads.legacy].sort());
  assert.deepEqual(
    (await readdir(dir)).sort(),
    [entries.ours, entries.unrelated, entries.parentAlive, uploads.ours].sort(),
  );
  assert.deepEqual(await removeLeftovers(path.join(dir, 'missing'), JOB_TEMP), []);
});

test('a server killed with SIGKILL mid-transcription: pocketsphinx dies with it, its temp folder goes at the next start', async (t) => {
  const testDb = await createTestDatabase();
  let server: RunningServer | undefined;
  t.after(async () => {
    if (server && server.proc.exitCode === null && server.proc.signalCode === null) await stopServer(server);
    await testDb.drop();
  });
  const dataDir = tempDir('orphans');
  // The five LibriVox clips joined with their pauses cut out, four times over: 84 s of speech with
  // no pause for pocketsphinx to end an utterance at, so it decodes for a minute without writing a
  // line. (An engine that writes to its dead parent's pipe dies of SIGPIPE anyway: only a silent
  // one tells whether it was tied to the server.)
  const audioDir = tempDir('orphans-audio');
  const joined = path.join(audioDir, 'joined.wav');
  const unpaused = path.join(audioDir, 'unpaused.wav');
  const speech = path.join(audioDir, 'speech.wav');
  execFileSync('sox', [...librivoxClips().map((c) => c.wavPath), joined]);
  execFileSync('sox', [joined, unpaused, 'silence', '1', '0.05', '1%', '-1', '0.05', '1%']);
  execFileSync('sox', [unpaused, unpaused, unpaused, unpaused, speech]);
  const env = {
    STT_ENGINE: 'sphinx',
    SECRET_KEY: 'orphans-test-secret-that-is-long-enough',
    DATABASE_URL: testDb.url,
    SHUTDOWN_TIMEOUT_MS: '2000',
  };

  server = await startServer(dataDir, env);
  const serverPid = server.proc.pid!;
  const reg = await call(server, 'POST', '/api/v1/auth/register', {
    body: { email: 'orphans@example.com', password: 'a long enough password' },
  });
  assert.equal(reg.status, 201, JSON.stringify(reg.body));
  const token = (reg.body as { access_token: string }).access_token;
  const upload = await fetch(`${server.base}/api/v1/audio/upload`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: audioForm(await readFile(speech), 'speech.wav', { language: 'en' }),
  });
  assert.equal(upload.status, 201, await upload.clone().text());
  const recordingId = ((await upload.json()) as { id: string }).id;
  const queued = await call(server, 'POST', `/api/v1/audio/${recordingId}/transcribe`, { token, body: {} });
  assert.equal(queued.status, 202, JSON.stringify(queued.body));

  const engine = await waitUntil('pocketsphinx_continuous runs under the server', () =>
    runningProcesses().find((p) => p.ppid === serverPid && p.cmdline.includes('pocketsphinx_continuous')),
  );
  const folders = async () => (await readdir(tmpdir())).filter((name) => name.startsWith(`${JOB_TEMP.prefix}${serverPid}-`));
  const killedFolders = await folders();
  assert.equal(killedFolders.length, 1, 'the job works in one folder named with the server pid');
  assert.ok(engine.cmdline.includes(killedFolders[0]!), engine.cmdline);

  server.proc.kill('SIGKILL');
  await waitForExit(server);
  await waitUntil(`the engine ${engine.pid} of the killed server is dead`, () => !isAlive(engine.pid), DEATH_TIMEOUT_MS);
  const survivors = runningProcesses().filter((p) => p.cmdline.includes(killedFolders[0]!));
  assert.deepEqual(survivors, [], 'nothing works on the dead server\'s folder');
  assert.deepEqual(await folders(), killedFolders, 'left behind by the kill');

  server = await startServer(dataDir, env);
  assert.deepEqual(await folders(), [], 'removed at start-up');
  await stopServer(server);
});
