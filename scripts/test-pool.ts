/**
 * Runs test files N at a time, one node process each, so that every file's time is known:
 * a passing file prints one line with its count and seconds, a failing one its whole spec report,
 * and the run ends with the totals and the slowest files (where to look when the test step grows).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export interface FileResult {
  file: string;
  seconds: number;
  code: number;
  tests: number;
  pass: number;
  fail: number;
  skipped: number;
}

/**
 * The longest file takes under a minute on 2 cores: one past this is stuck, and stalls the whole run
 * (a forgotten `sleep 300` once held a file open for five minutes after its tests had passed).
 */
const FILE_LIMIT_MS = Number(process.env.TEST_FILE_TIMEOUT_MS ?? 300_000);

const running = new Set<ChildProcess>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    for (const child of running) child.kill(signal);
  });
}

function count(report: string, label: string): number {
  const found = new RegExp(`^ℹ ${label} (\\d+)$`, 'm').exec(report);
  return found ? Number(found[1]) : 0;
}

function runFile(file: string, root: string, env: NodeJS.ProcessEnv): Promise<FileResult> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', '--test-reporter=spec', file], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let report = '';
  let hung: string | null = null;
  const limit = setTimeout(() => {
    hung = `did not finish within ${FILE_LIMIT_MS / 1000} s (a test stuck, or a handle left open: a child process, a socket, a timer)`;
    child.kill('SIGKILL');
  }, FILE_LIMIT_MS);
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (report += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (report += chunk));
  // A grandchild left running keeps the pipes open after the file's process has gone: stop reading.
  child.once('exit', () => {
    setTimeout(() => {
      child.stdout.destroy();
      child.stderr.destroy();
    }, 2_000).unref();
  });
  return new Promise((resolve) => {
    child.once('close', (code, signal) => {
      running.delete(child);
      clearTimeout(limit);
      if (hung) report += `\n✖ ${path.relative(root, file)} ${hung}\n`;
      const result: FileResult = {
        file: path.relative(root, file),
        seconds: (performance.now() - started) / 1000,
        code: hung ? 1 : (code ?? (signal ? 1 : 0)),
        tests: count(report, 'tests'),
        pass: count(report, 'pass'),
        fail: count(report, 'fail') + count(report, 'cancelled'),
        skipped: count(report, 'skipped'),
      };
      const mark = result.code === 0 ? '✔' : '✖';
      const skipped = result.skipped ? `, ${result.skipped} skipped` : '';
      if (result.code !== 0) process.stdout.write(`\n${report}\n`);
      console.log(`${mark} ${result.file} (${result.pass}/${result.tests} passed${skipped}, ${result.seconds.toFixed(1)} s)`);
      resolve(result);
    });
  });
}

/** Runs `files` in order, `concurrency` at a time; resolves with every file's result. */
export async function runFiles(files: string[], concurrency: number, root: string, env: NodeJS.ProcessEnv): Promise<FileResult[]> {
  const results: FileResult[] = [];
  const queue = [...files];
  const lanes = Array.from({ length: Math.max(1, Math.min(concurrency, queue.length)) }, async () => {
    for (let file = queue.shift(); file; file = queue.shift()) results.push(await runFile(file, root, env));
  });
  await Promise.all(lanes);
  return results;
}

export function summarize(results: FileResult[], wallSeconds: number): void {
  if (results.length === 0) return;
  const sum = (pick: (r: FileResult) => number) => results.reduce((total, r) => total + pick(r), 0);
  const failed = results.filter((r) => r.code !== 0);
  console.log(
    `\n${results.length} files: ${sum((r) => r.tests)} tests, ${sum((r) => r.pass)} passed, ${sum((r) => r.fail)} failed, ` +
      `${sum((r) => r.skipped)} skipped; ${sum((r) => r.seconds).toFixed(0)} s of file time in ${wallSeconds.toFixed(0)} s`,
  );
  console.log('the slowest files:');
  for (const r of [...results].sort((a, b) => b.seconds - a.seconds).slice(0, 10)) {
    console.log(`  ${r.seconds.toFixed(1).padStart(6)} s  ${r.file}`);
  }
  if (failed.length > 0) console.log(`failed:\n${failed.map((r) => `  ${r.file}`).join('\n')}`);
}
