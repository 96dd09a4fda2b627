/**
 * Everything the container test creates is named `transcribo-ct-<pid>…` (containers, volumes, the
 * compose network), so one sweep by name removes a run's leftovers, whether it ended normally,
 * failed, or was killed (the next run sweeps the prefixes of processes that are gone).
 */
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { log, output, run } from './exec.js';

const PREFIX = 'transcribo-ct-';

export const RUN_NAME = `${PREFIX}${process.pid}`;

async function names(kind: 'container' | 'volume' | 'network'): Promise<string[]> {
  const args =
    kind === 'container' ? ['ps', '-a', '--format', '{{.Names}}'] : [kind, 'ls', '--format', '{{.Name}}'];
  return (await output('podman', args).catch(() => '')).split('\n').filter((name) => name.startsWith(PREFIX));
}

/** The folder a run writes its compose files to. */
export function composeDir(runName: string): string {
  return path.join(tmpdir(), `${runName}-compose`);
}

/**
 * Removes every container, then volume, then network of one run (`run`, `run-…` ours, `run_…`
 * compose's), and its compose folder.
 */
export async function removeRun(runName: string): Promise<void> {
  const ours = (name: string) => name === runName || name.startsWith(`${runName}-`) || name.startsWith(`${runName}_`);
  const containers = (await names('container')).filter(ours);
  if (containers.length) await run('podman', ['rm', '-f', '-t', '2', ...containers], { allowFailure: true });
  const volumes = (await names('volume')).filter(ours);
  if (volumes.length) await run('podman', ['volume', 'rm', '-f', ...volumes], { allowFailure: true });
  const networks = (await names('network')).filter(ours);
  if (networks.length) await run('podman', ['network', 'rm', '-f', ...networks], { allowFailure: true });
  await rm(composeDir(runName), { recursive: true, force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Leftovers of earlier runs whose process no longer exists. */
export async function sweepDeadRuns(): Promise<void> {
  const all = [...(await names('container')), ...(await names('volume')), ...(await names('network'))];
  const dead = new Set<number>();
  for (const name of all) {
    const pid = Number(/^transcribo-ct-(\d+)/.exec(name)?.[1]);
    if (Number.isInteger(pid) && pid !== process.pid && !alive(pid)) dead.add(pid);
  }
  for (const pid of dead) {
    log(`removing what an earlier run (pid ${pid}) left behind`);
    await removeRun(`${PREFIX}${pid}`);
  }
}
