/**
 * Every child process this server starts (ffmpeg, pocketsphinx) goes through spawnTied, so that it
 * dies with the server. Node kills no children when it is killed itself: after a kill -9 or an OOM
 * kill, a pocketsphinx_continuous went on decoding for minutes under init. On Linux the child is
 * started through util-linux's `setpriv --pdeathsig KILL`, which asks the kernel to SIGKILL it the
 * moment its parent dies, and then execs the program in the same process (same pid, same
 * streams). Where setpriv is missing or too old (before util-linux 2.33) it is a plain spawn.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { findExecutable } from './find-executable.js';

let launcher: string | null | undefined;

/** setpriv, when this system has one that knows --pdeathsig; looked up once. */
export function deathSignalLauncher(): string | null {
  if (launcher === undefined) {
    launcher = null;
    const setpriv = process.platform === 'linux' ? findExecutable('setpriv', process.env.PATH ?? '') : null;
    if (setpriv) {
      const help = spawnSync(setpriv, ['--help'], { encoding: 'utf8', timeout: 5_000, stdio: ['ignore', 'pipe', 'ignore'] });
      if (help.status === 0 && help.stdout.includes('--pdeathsig')) launcher = setpriv;
    }
  }
  return launcher;
}

/**
 * child_process.spawn, with the child tied to this process's life. A program that cannot be found
 * or run is spawned directly, so it fails as it always did ('error' with ENOENT or EACCES) instead
 * of as setpriv's exit status.
 */
export function spawnTied(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  const setpriv = deathSignalLauncher();
  const program = setpriv ? findExecutable(command, String(options.env?.PATH ?? process.env.PATH ?? '')) : null;
  if (!setpriv || !program) return spawn(command, args, options);
  // `--` ends setpriv's options: the program's own arguments may start with a dash.
  return spawn(setpriv, ['--pdeathsig', 'KILL', '--', program, ...args], options);
}
