/** `npm run bench`: builds, then runs every benchmark in turn; results land in bench/results/. */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './lib.js';

const benchmarks = ['upload.ts', 'upload-concurrency.ts', 'transcription-overhead.ts', 'ttft.ts', 'queue-throughput.ts', 'footprint.ts', 'list-ceiling.ts', 'embedded-vs-server.ts', 'text-upload-liveness.ts', 'vad-cost.ts', 'realtime.ts'];
// The same build as `npm run build`, so its stamp tells the start script that dist/ is current.
execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.js')], { cwd: ROOT, stdio: 'inherit' });
for (const file of benchmarks) {
  console.log(`\n=== ${file}`);
  execFileSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', file)], { cwd: ROOT, stdio: 'inherit' });
}
