/**
 * `npm run models -- list`             the whisper models that can be named, and which are in MODELS_DIR
 * `npm run models -- download <name>`  download one into MODELS_DIR and verify its checksum
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { configOrExit } from '../bootstrap.js';
import { ensureModel, isVerified, ModelUnavailableError } from '../transcription/models/download.js';
import { findModel, MODEL_NAMES, MODELS } from '../transcription/models/registry.js';

const USAGE = `Usage:
  npm run models -- list               whisper models by name, and which are present in MODELS_DIR
  npm run models -- download <name>    download a model into MODELS_DIR and verify its SHA-1

Names: ${MODEL_NAMES.join(', ')}`;

const [command, ...args] = process.argv.slice(2);

if (command === 'list' && args.length === 0) {
  await list();
} else if (command === 'download' && args.length === 1) {
  await download(args[0]!);
} else if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
  console.log(USAGE);
} else {
  console.error(USAGE);
  process.exit(2);
}

async function list(): Promise<void> {
  const config = configOrExit();
  const { modelsDir, model: configured } = config.stt.whisper;
  const present = new Set(await readdir(modelsDir).catch(() => [] as string[]));
  const rows = await Promise.all(
    MODELS.map(async (model) => {
      let state = '';
      if (present.has(model.file)) state = (await isVerified(model, modelsDir)) ? 'present, verified' : 'present';
      return [model.name === configured ? `${model.name} *` : model.name, formatMiB(model.approxMiB), model.englishOnly ? 'en' : 'multi', state];
    }),
  );
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => row[i]!.length), ['name', 'size', 'lang'][i]!.length));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell)).join('  ').trimEnd();
  console.log(`Whisper models (MODELS_DIR=${modelsDir}; * = WHISPER_MODEL):\n`);
  console.log(line(['name', 'size', 'lang', 'status']));
  for (const row of rows) console.log(line(row));

  const others = [...present].filter((file) => file.endsWith('.bin') && !MODELS.some((model) => model.file === file));
  if (others.length > 0) {
    console.log('\nOther .bin files there (usable with WHISPER_MODEL=<path>):');
    for (const file of others.sort()) {
      const size = (await stat(path.join(modelsDir, file))).size;
      console.log(`  ${file}  ${formatMiB(size / 2 ** 20)}`);
    }
  }
  if (!findModel(configured)) console.log(`\nWHISPER_MODEL is a file: ${path.resolve(configured)}`);
}

async function download(name: string): Promise<void> {
  const model = findModel(name);
  if (!model) {
    console.error(`Unknown model "${name}". Names: ${MODEL_NAMES.join(', ')}`);
    process.exit(2);
  }
  const config = configOrExit();
  const { modelsDir, modelBaseUrl } = config.stt.whisper;
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort(new Error('interrupted')));
  try {
    const file = await ensureModel(model, {
      modelsDir,
      baseUrl: modelBaseUrl,
      signal: controller.signal,
      log: (level, message) => (level === 'error' || level === 'warn' ? console.error(message) : console.log(message)),
    });
    console.log(`${model.name} is ready: ${file}`);
  } catch (error) {
    if (error instanceof ModelUnavailableError) {
      console.error(error.message);
      process.exit(1);
    }
    if (controller.signal.aborted) {
      console.error('Download interrupted; nothing was kept.');
      process.exit(130);
    }
    throw error;
  }
}

function formatMiB(mib: number): string {
  return mib >= 1024 ? `${(mib / 1024).toFixed(1)} GiB` : `${Math.round(mib)} MiB`;
}
