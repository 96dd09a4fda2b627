/**
 * Commands for the container test: run quietly, keep the output, and show its tail only when a
 * command fails (a cold image build prints thousands of lines).
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Return a failing result instead of throwing. */
  allowFailure?: boolean;
  timeoutMs?: number;
}

const KEEP_CHARS = 2_000_000;
const TAIL_LINES = 60;

function tail(text: string, lines = TAIL_LINES): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

export class CommandFailed extends Error {
  constructor(
    readonly command: string,
    readonly result: Result,
  ) {
    super(`${command} exited ${result.code}\n${tail(`${result.stdout}\n${result.stderr}`)}`);
    this.name = 'CommandFailed';
  }
}

const running = new Set<ChildProcess>();

/** Stops the commands still running (on Ctrl-C: a podman-compose would go on creating things). */
export function killRunning(): void {
  for (const child of running) child.kill('SIGKILL');
}

export function describe(cmd: string, args: string[]): string {
  return [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

export function run(cmd: string, args: string[], options: RunOptions = {}): Promise<Result> {
  const command = describe(cmd, args);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    // Only the end matters when something fails; a build's whole log would only cost memory.
    child.stdout.on('data', (chunk: Buffer) => (stdout = (stdout + chunk.toString()).slice(-KEEP_CHARS)));
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-KEEP_CHARS)));
    const timer = options.timeoutMs
      ? setTimeout(() => {
          stderr += `\n(killed after ${options.timeoutMs} ms)`;
          child.kill('SIGKILL');
        }, options.timeoutMs)
      : null;
    child.on('error', (error) => {
      running.delete(child);
      if (timer) clearTimeout(timer);
      reject(new Error(`${command}: ${error.message}`, { cause: error }));
    });
    child.on('close', (code, signal) => {
      running.delete(child);
      if (timer) clearTimeout(timer);
      const result = { code: code ?? (signal ? 128 : 1), stdout, stderr };
      if (result.code !== 0 && !options.allowFailure) reject(new CommandFailed(command, result));
      else resolve(result);
    });
  });
}

/** Standard output, trimmed. */
export async function output(cmd: string, args: string[], options: RunOptions = {}): Promise<string> {
  return (await run(cmd, args, options)).stdout.trim();
}

export function log(message: string): void {
  console.log(`[test:container] ${message}`);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Each step's duration, printed as it ends and again as a table at the end. */
export class Timings {
  private readonly started = Date.now();
  private readonly steps: Array<[string, number]> = [];

  async step<T>(name: string, work: () => Promise<T>): Promise<T> {
    const start = Date.now();
    log(`${name} …`);
    try {
      return await work();
    } finally {
      const took = Date.now() - start;
      this.steps.push([name, took]);
      log(`${name}: ${seconds(took)}`);
    }
  }

  report(outcome: string): void {
    const width = Math.max(...this.steps.map(([name]) => name.length), 5);
    const rows = this.steps.map(([name, ms]) => `  ${name.padEnd(width)}  ${seconds(ms).padStart(8)}`);
    console.log(['', `[test:container] ${outcome}; timings:`, ...rows, `  ${'total'.padEnd(width)}  ${seconds(Date.now() - this.started).padStart(8)}`].join('\n'));
  }
}
