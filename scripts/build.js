/**
 * `npm run build` and `prepare` (run by npm install): compiles src/ into dist/ and stamps it
 * (see dist.js). `--if-stale` compiles only when the sources changed since the last build;
 * `--check` compiles nothing: it exits 0 when dist/ is current and 1 when a start would compile.
 * `--console` builds only the web console (dist/console), and only when console/ changed.
 */
/* global console, process -- Node's globals; the lint config declares none for plain .js files */
import { ensureBuilt, ensureConsoleBuilt, isBuilt, typescriptInstalled } from './dist.js';

if (process.argv[2] === '--check') {
  const current = isBuilt();
  console.log(current ? 'dist/ is current' : 'dist/ is out of date');
  process.exit(current ? 0 : 1);
}
if (process.argv[2] === '--console') {
  ensureConsoleBuilt();
  process.exit(0);
}
// prepare runs at every npm install; one without dev dependencies cannot build and should not fail for it.
if (process.env.npm_lifecycle_event === 'prepare' && !typescriptInstalled()) {
  console.warn('TypeScript is not installed (production install?): not building dist/');
} else {
  ensureBuilt({ force: process.argv[2] !== '--if-stale' });
}
