/** Questions the container test asks podman about one container. */
import { setTimeout as sleep } from 'node:timers/promises';
import { log, output, run } from './exec.js';

export async function isRunning(name: string): Promise<boolean> {
  const state = await run('podman', ['inspect', '--format', '{{.State.Running}}', name], { allowFailure: true });
  return state.stdout.trim() === 'true';
}

export async function exitCode(name: string): Promise<number> {
  return Number(await output('podman', ['inspect', '--format', '{{.State.ExitCode}}', name]));
}

export async function logs(name: string): Promise<string> {
  const result = await run('podman', ['logs', name], { allowFailure: true });
  return `${result.stdout}${result.stderr}`;
}

/** Prints the end of a container's log: what a failed check needs to be understood. */
export async function showLogs(name: string, lines = 40): Promise<void> {
  const text = (await logs(name)).trimEnd().split('\n').slice(-lines).join('\n');
  log(`last lines of ${name}'s log:\n${text}`);
}

/**
 * Runs the image's HEALTHCHECK once (podman schedules it through systemd, which these machines
 * lack), until it passes or `timeoutMs` ends.
 */
export async function waitHealthy(name: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const check = await run('podman', ['healthcheck', 'run', name], { allowFailure: true });
    if (check.code === 0) return;
    if (Date.now() > deadline || !(await isRunning(name))) {
      throw new Error(`${name} is not healthy: ${check.stdout}${check.stderr}`.trim());
    }
    await sleep(500);
  }
}

/** Waits for a line matching `pattern` in the container's log. */
export async function waitForLog(name: string, pattern: RegExp, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(await logs(name))) {
    if (Date.now() > deadline) throw new Error(`${name}: no log line matching ${pattern} after ${timeoutMs / 1000} s`);
    if (!(await isRunning(name))) throw new Error(`${name} exited (code ${await exitCode(name)}) before logging ${pattern}`);
    await sleep(500);
  }
}
