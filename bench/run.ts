/** `npm run bench`: builds, then runs every benchmark in turn; results land in bench/results/. */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './lib.js';

const benchmarks = ['upload.ts', 'transcription-overhead.ts', 'ttft.ts', 'queue-throughput.ts'];
execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
for (const file of benchmarks) {
  console.log(`\n=== ${file}`);
  execFileSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', file)], { cwd: ROOT, stdio: 'inherit' });
}
