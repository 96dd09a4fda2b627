/**
 * Child of test/abuse/orphans.test.ts: starts `sleep` (through spawnTied, or a plain spawn with
 * `plain`), prints its pid and waits to be killed.
 */
import { spawn } from 'node:child_process';
import { spawnTied } from '../../src/process/spawn.js';

const plain = process.argv[2] === 'plain';
const sleeper = (plain ? spawn : spawnTied)('sleep', ['300'], { stdio: 'ignore' });
sleeper.once('spawn', () => console.log(`sleeper ${sleeper.pid}`));
setInterval(() => undefined, 60_000);
