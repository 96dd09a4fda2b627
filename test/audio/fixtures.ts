/** Audio fixtures made at test time by ffmpeg itself, in a temp dir removed after the file's tests. */

import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { resolveFfmpeg, runFfmpeg } from '../../src/audio/ffmpeg.js';

export interface Format {
  /** File extension of the fixture. */
  name: string;
  /** ffmpeg output options that make it. */
  encode: string[];
  /** What sniffAudio must answer. */
  mime: string;
  extension: string;
}

/** One per allowed type, two for audio/ogg (vorbis and opus). */
export const FORMATS: Format[] = [
  { name: 'wav', encode: ['-c:a', 'pcm_s16le'], mime: 'audio/wav', extension: 'wav' },
  { name: 'mp3', encode: ['-c:a', 'libmp3lame'], mime: 'audio/mpeg', extension: 'mp3' },
  { name: 'm4a', encode: ['-c:a', 'aac'], mime: 'audio/mp4', extension: 'm4a' },
  { name: 'ogg', encode: ['-c:a', 'libvorbis'], mime: 'audio/ogg', extension: 'ogg' },
  { name: 'opus', encode: ['-c:a', 'libopus'], mime: 'audio/ogg', extension: 'opus' },
  { name: 'webm', encode: ['-c:a', 'libopus'], mime: 'audio/webm', extension: 'webm' },
  { name: 'flac', encode: ['-c:a', 'flac'], mime: 'audio/flac', extension: 'flac' },
];

export async function tempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), `transcribo-${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Runs ffmpeg with a lavfi source, e.g. generate(out, 'sine=frequency=440:duration=2', [...]). */
export async function generate(output: string, source: string, options: string[] = []): Promise<string> {
  const ffmpeg = await resolveFfmpeg(null);
  await runFfmpeg(ffmpeg, ['-f', 'lavfi', '-i', source, ...options, '-y', output]);
  return output;
}

/** Two seconds of a 440 Hz sine in every format, made once per test file. */
export function sineFixtures(dir: string): Promise<Map<string, string>> {
  return Promise.all(
    FORMATS.map(async (format) => {
      const file = path.join(dir, `sine.${format.name}`);
      await generate(file, 'sine=frequency=440:duration=2', format.encode);
      return [format.name, file] as const;
    }),
  ).then((entries) => new Map(entries));
}

export function memo<T>(make: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => (value ??= make());
}

export async function filesIn(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

/**
 * Pids of this process's children named ffmpeg (zombies included) and of any process whose command
 * line mentions `needle`: Linux /proc.
 */
export async function ffmpegProcesses(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const match = /^\d+ \((.*)\) (\S) (\d+)/.exec(stat);
      const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).replace(/\0/g, ' ');
      const child = match !== null && Number(match[3]) === process.pid && match[1]!.includes('ffmpeg');
      if (child || cmdline.includes(needle)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}
