/**
 * Compiles src/ into dist/ (tsc -p tsconfig.build.json) and records a fingerprint of what it
 * compiled in dist/.build-stamp, so that `npm start` can tell whether dist/ is current by looking
 * at file dates instead of running tsc (which takes 10–60 s). Used by build.js (always compiles)
 * and start.js (compiles only when the fingerprint changed). The web console (console/, built by
 * Vite into dist/console) is built the same way, with its own fingerprint in dist/console.
 * Plain JavaScript: it runs before anything is compiled, and must not load tsx into the server.
 */
/* global console, process, URL -- Node's globals; the lint config declares none for plain .js files */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const DIST = path.join(ROOT, 'dist');
const STAMP = path.join(DIST, '.build-stamp');
/** What the output depends on. migrations/ is read at run time, so it is not among them. */
const INPUTS = ['src', 'tsconfig.json', 'tsconfig.build.json'];
/** The entry points start.js runs; a stamp without them is not a build. */
const ENTRIES = ['server.js', 'worker.js'];

const CONSOLE_SOURCES = path.join(ROOT, 'console');
export const CONSOLE_DIST = path.join(DIST, 'console');
const CONSOLE_STAMP = path.join(CONSOLE_DIST, '.build-stamp');
/** The lock file stands for the console's packages (Preact, Vite): an upgrade rebuilds it. */
const CONSOLE_INPUTS = ['console', 'package-lock.json'];

/**
 * Path, modification time and size of every input, folders included (a folder's time changes
 * when a file in it is added, removed or renamed). Any edit, even one that sets an older time
 * (a checkout, a restored backup), changes it. Stat calls only: milliseconds for src/.
 */
function fingerprint(inputs = INPUTS) {
  const hash = createHash('sha256');
  const visit = (relative) => {
    const full = path.join(ROOT, relative);
    let stats;
    try {
      stats = statSync(full);
    } catch {
      hash.update(`${relative} absent\n`);
      return;
    }
    hash.update(`${relative} ${stats.mtimeMs} ${stats.size}\n`);
    if (stats.isDirectory()) for (const name of readdirSync(full).sort()) visit(path.join(relative, name));
  };
  for (const input of inputs) visit(input);
  return hash.digest('hex');
}

function isCurrent(print) {
  if (!ENTRIES.every((entry) => existsSync(path.join(DIST, entry)))) return false;
  try {
    return readFileSync(STAMP, 'utf8').trim() === print;
  } catch {
    return false;
  }
}

/** tsc's script, or null where TypeScript (a devDependency) is not installed. */
function tscPath() {
  try {
    return createRequire(import.meta.url).resolve('typescript/bin/tsc');
  } catch {
    return null;
  }
}

/** Runs tsc; returns its exit status. */
function compile(tsc) {
  const run = spawnSync(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'inherit' });
  if (run.error) throw run.error;
  return run.status ?? 1;
}

/**
 * Compiles when `force` or when dist/ does not match the sources; returns false when it was
 * current. Exits the process, with tsc's status, when the compilation fails.
 */
export function ensureBuilt({ force = false } = {}) {
  const server = ensureServerBuilt({ force });
  const webConsole = ensureConsoleBuilt({ force });
  return server || webConsole;
}

function ensureServerBuilt({ force }) {
  // Taken before compiling: an edit made while tsc runs makes the next start compile again.
  const print = fingerprint();
  if (!force && isCurrent(print)) return false;
  const tsc = tscPath();
  if (!tsc) {
    // A production install (npm ci --omit=dev) has no tsc; its dist/ was built elsewhere.
    if (!force && ENTRIES.every((entry) => existsSync(path.join(DIST, entry)))) {
      console.warn('TypeScript is not installed, so dist/ cannot be checked against src/; running dist/ as it is');
      return false;
    }
    console.error('TypeScript is not installed, so dist/ cannot be built: run `npm install` with dev dependencies');
    process.exit(1);
  }
  if (!force) console.warn('src/ changed since the last build; compiling…');
  // A failed build must not leave the old stamp claiming that dist/ matches.
  rmSync(STAMP, { force: true });
  const status = compile(tsc);
  if (status !== 0) process.exit(status);
  writeFileSync(STAMP, `${print}\n`);
  return true;
}

/** True when dist/ was built from the sources as they are now. */
export function isBuilt() {
  return isCurrent(fingerprint()) && isConsoleCurrent(consoleFingerprint());
}

// ---------------------------------------------------------------------------------------------
// The web console (Vite). A project without console/ (a test's tiny copy of these scripts) has none to build.

function consoleFingerprint() {
  return existsSync(CONSOLE_SOURCES) ? fingerprint(CONSOLE_INPUTS) : null;
}

function isConsoleCurrent(print) {
  if (print === null) return true;
  if (!existsSync(path.join(CONSOLE_DIST, 'index.html'))) return false;
  try {
    return readFileSync(CONSOLE_STAMP, 'utf8').trim() === print;
  } catch {
    return false;
  }
}

/** Vite's command-line script, or null where Vite (a devDependency) is not installed. */
function vitePath() {
  try {
    const manifest = createRequire(import.meta.url).resolve('vite/package.json');
    return path.join(path.dirname(manifest), 'bin', 'vite.js');
  } catch {
    return null;
  }
}

/**
 * Builds the console into dist/console when `force` or when it does not match console/; returns
 * false when it was current. Exits the process with Vite's status when the build fails.
 */
export function ensureConsoleBuilt({ force = false } = {}) {
  const print = consoleFingerprint();
  if (print === null || (!force && isConsoleCurrent(print))) return false;
  const vite = vitePath();
  if (!vite) {
    if (existsSync(path.join(CONSOLE_DIST, 'index.html')) || !force) {
      // The API works without its console: `/` then answers JSON.
      console.warn('Vite is not installed, so the web console cannot be (re)built; serving dist/console as it is, if at all');
      return false;
    }
    console.error('Vite is not installed, so the web console cannot be built: run `npm install` with dev dependencies');
    process.exit(1);
  }
  if (!force) console.warn('console/ changed since the last build; building the web console…');
  const run = spawnSync(process.execPath, [vite, 'build', '--config', path.join(CONSOLE_SOURCES, 'vite.config.ts'), '--logLevel', 'warn'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (run.error) throw run.error;
  if (run.status !== 0) process.exit(run.status ?? 1);
  // Written after the build: Vite empties dist/console first.
  writeFileSync(CONSOLE_STAMP, `${print}\n`);
  return true;
}

/** False where TypeScript (a devDependency) is not installed, as after npm ci --omit=dev. */
export function typescriptInstalled() {
  return tscPath() !== null;
}
