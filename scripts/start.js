/**
 * `npm start` (server) and `npm run worker` (worker): compiles only when src/ changed since the
 * last build (see dist.js), then runs dist/<entry>.js inside this same process. No child process:
 * SIGTERM and SIGINT reach the server's own handlers, and the exit code is the server's.
 */
/* global console, process -- Node's globals; the lint config declares none for plain .js files */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DIST, ensureBuilt } from './dist.js';

const ENTRIES = { server: 'server.js', worker: 'worker.js' };
const which = process.argv[2] ?? 'server';
if (!Object.hasOwn(ENTRIES, which)) {
  console.error(`usage: node scripts/start.js [${Object.keys(ENTRIES).join('|')}]`);
  process.exit(2);
}

ensureBuilt();
await import(pathToFileURL(path.join(DIST, ENTRIES[which])).href);
