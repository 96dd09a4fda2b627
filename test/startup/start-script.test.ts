import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/*
 * scripts/start.js (npm start, npm run worker) compiles only when the sources changed since the
 * last build, then runs the entry in its own process. Run here on a tiny project of its own with a
 * stand-in tsc, so that each case takes milliseconds and counts exactly how often it compiled.
 */

const SCRIPTS = fileURLToPath(new URL('../../scripts/', import.meta.url));

/** Writes dist/server.js and dist/worker.js, logs the run, and fails when FAIL_BUILD exists. */
const FAKE_TSC = `
const fs = require('node:fs');
fs.appendFileSync('compiles.log', 'compiled\\n');
if (fs.existsSync('FAIL_BUILD')) { console.error('src/a.ts(1,1): error TS2322'); process.exit(2); }
fs.mkdirSync('dist', { recursive: true });
const entry = (name) => \`process.on('SIGTERM', () => { console.log('\${name} got SIGTERM'); process.exit(42); });
console.log('\${name} running');
setInterval(() => {}, 1000);
if (process.env.EXIT_AT_ONCE) process.exit(7);\`;
fs.writeFileSync('dist/server.js', entry('server'));
fs.writeFileSync('dist/worker.js', entry('worker'));
`;

let root: string;

before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'transcribo-start-'));
  await cp(SCRIPTS, path.join(root, 'scripts'), { recursive: true });
  await writeFile(path.join(root, 'package.json'), '{"type":"module"}\n');
  await mkdir(path.join(root, 'src'));
  await writeFile(path.join(root, 'src', 'a.ts'), 'export const a = 1;\n');
  await writeFile(path.join(root, 'tsconfig.json'), '{}\n');
  await writeFile(path.join(root, 'tsconfig.build.json'), '{}\n');
  await mkdir(path.join(root, 'node_modules', 'typescript', 'bin'), { recursive: true });
  await writeFile(path.join(root, 'node_modules', 'typescript', 'package.json'), '{"name":"typescript"}\n');
  await writeFile(path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), FAKE_TSC);
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

const compiles = async () => (await readFile(path.join(root, 'compiles.log'), 'utf8').catch(() => '')).split('\n').filter(Boolean).length;

/** Runs a script to its end; `EXIT_AT_ONCE` makes the stand-in entry exit 7 as soon as it ran. */
async function run(script: string, ...args: string[]): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(root, 'scripts', script), ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', EXIT_AT_ONCE: '1' },
    });
    return { code: 0, stdout };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '' };
  }
}

test('compiles on the first start, not on the next, and again once a source changes', async () => {
  assert.equal((await run('build.js', '--check')).code, 1, 'nothing built yet');
  const first = await run('start.js', 'server');
  assert.equal(first.code, 7, 'the exit code is the entry’s own');
  assert.match(first.stdout, /server running/);
  assert.equal(await compiles(), 1);

  assert.equal((await run('build.js', '--check')).code, 0);
  assert.equal((await run('start.js', 'server')).code, 7);
  assert.match((await run('start.js', 'worker')).stdout, /worker running/);
  assert.equal(await compiles(), 1, 'dist/ was current');

  // An edit that moves the date backwards (a checkout, a restored file) counts too.
  await utimes(path.join(root, 'src', 'a.ts'), new Date(2001, 0, 1), new Date(2001, 0, 1));
  await run('start.js', 'server');
  assert.equal(await compiles(), 2);

  await writeFile(path.join(root, 'src', 'b.ts'), 'export const b = 2;\n');
  await run('start.js', 'server');
  await rm(path.join(root, 'src', 'b.ts'));
  await run('start.js', 'server');
  await writeFile(path.join(root, 'tsconfig.build.json'), '{ }\n');
  await run('start.js', 'server');
  assert.equal(await compiles(), 5, 'an added file, a removed one and a tsconfig edit each rebuild');
});

test('a failed compilation stops the start with tsc’s status, and the next start tries again', async () => {
  await writeFile(path.join(root, 'src', 'a.ts'), 'export const a: number = "x";\n');
  await writeFile(path.join(root, 'FAIL_BUILD'), '');
  const before = await compiles();
  const failed = await run('start.js', 'server');
  assert.equal(failed.code, 2);
  assert.doesNotMatch(failed.stdout, /server running/);
  assert.equal((await run('build.js', '--check')).code, 1, 'no stamp claims the failed build');

  await rm(path.join(root, 'FAIL_BUILD'));
  assert.equal((await run('start.js', 'server')).code, 7);
  assert.equal(await compiles(), before + 2);
});

test('npm run build always compiles; --if-stale only when a source changed', async () => {
  const before = await compiles();
  assert.equal((await run('build.js')).code, 0);
  assert.equal(await compiles(), before + 1);
  assert.equal((await run('build.js', '--check')).code, 0);
  assert.equal((await run('build.js', '--if-stale')).code, 0);
  assert.equal(await compiles(), before + 1);
  await writeFile(path.join(root, 'src', 'a.ts'), 'export const a = 3;\n');
  assert.equal((await run('build.js', '--if-stale')).code, 0);
  assert.equal(await compiles(), before + 2);
});

test('SIGTERM reaches the server itself: the script runs it in its own process', async () => {
  const child = spawn(process.execPath, [path.join(root, 'scripts', 'start.js'), 'server'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (stdout.includes('server running')) resolve();
    });
    child.once('exit', () => reject(new Error(`exited before running: ${stdout}`)));
  });
  child.kill('SIGTERM');
  assert.equal(await exited, 42, 'the server’s own SIGTERM handler ran and chose the exit code');
  assert.match(stdout, /server got SIGTERM/);
});
