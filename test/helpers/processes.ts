/**
 * Processes seen through /proc: every live one, one by its pid, or those a server started (engines),
 * found by ancestry whatever spawned them. Kept apart from server-process.ts, which starts processes
 * and sets a node:test hook to clean up after them, because looking needs neither.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Pids of live processes (zombies excluded) whose program is `program` and that descend from `ancestor`. */
export function descendantsRunning(ancestor: number, program: string): number[] {
  const processes = runningProcesses();
  const parents = new Map(processes.map((p) => [p.pid, p.ppid]));
  return processes
    .filter((p) => path.basename(p.argv0) === program)
    .map((p) => p.pid)
    .filter((pid) => {
      for (let p = parents.get(pid); p !== undefined && p > 1; p = parents.get(p)) if (p === ancestor) return true;
      return false;
    });
}

export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** The program as it was started (argv[0]). */
  argv0: string;
  cmdline: string;
}

/** Every live process (zombies excluded), with its parent and command line. */
export function runningProcesses(): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z') continue;
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      found.push({ pid: Number(entry), ppid: Number(ppid), argv0: argv.split('\0')[0] ?? '', cmdline: argv.replace(/\0/g, ' ').trim() });
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

/** True while a process with this pid exists and has not exited (a zombie has). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
