import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Real recorded speech with reference transcripts, from Debian's pocketsphinx-testdata. */
export const LIBRIVOX_DIR = '/usr/share/pocketsphinx/test/data/librivox';

export interface Clip {
  id: string;
  wavPath: string;
  reference: string;
}

export function librivoxClips(): Clip[] {
  const lines = readFileSync(path.join(LIBRIVOX_DIR, 'transcription'), 'utf8').trim().split('\n');
  return lines.map((line) => {
    const match = /^<s> (.*) <\/s> \((.+)\)$/.exec(line.trim());
    if (!match) throw new Error(`unexpected transcription line: ${line}`);
    return { id: match[2]!, reference: match[1]!, wavPath: path.join(LIBRIVOX_DIR, `${match[2]}.wav`) };
  });
}

/** The shortest clip ("he was not an ill disposed young man", 3 s). */
export function shortClip(): Clip {
  return librivoxClips().find((c) => c.id.endsWith('0880'))!;
}

export const FORMATS = {
  wav: { ext: 'wav', args: ['-c:a', 'pcm_s16le'], mime: 'audio/wav' },
  mp3: { ext: 'mp3', args: ['-c:a', 'libmp3lame', '-b:a', '64k'], mime: 'audio/mpeg' },
  m4a: { ext: 'm4a', args: ['-c:a', 'aac', '-b:a', '64k'], mime: 'audio/mp4' },
  ogg: { ext: 'ogg', args: ['-c:a', 'libvorbis'], mime: 'audio/ogg' },
  opus: { ext: 'opus', args: ['-c:a', 'libopus', '-b:a', '32k'], mime: 'audio/ogg' },
  webm: { ext: 'webm', args: ['-c:a', 'libopus', '-b:a', '32k'], mime: 'audio/webm' },
  flac: { ext: 'flac', args: ['-c:a', 'flac'], mime: 'audio/flac' },
} as const;

export type FormatName = keyof typeof FORMATS;

const scratch = mkdtempSync(path.join(tmpdir(), 'transcribo-audio-'));

/** Re-encodes a WAV into one of the allowed formats with ffmpeg. */
export function encode(input: string, format: FormatName): string {
  const spec = FORMATS[format];
  const out = path.join(scratch, `${path.basename(input, '.wav')}-${Date.now()}-${Math.random().toString(36).slice(2)}.${spec.ext}`);
  execFileSync('ffmpeg', ['-nostdin', '-hide_banner', '-loglevel', 'error', '-y', '-i', input, '-vn', ...spec.args, out]);
  return out;
}

/** A multipart form with one file part, as a browser or curl -F would send it. */
export function audioForm(bytes: Buffer, filename: string, fields: Record<string, string> = {}, type = 'application/octet-stream'): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append('file', new Blob([bytes], { type }), filename);
  return form;
}

/**
 * ffmpeg processes that are children of this test process and still running (zombies have exited).
 * An app under test runs in this process, so its decoders count too.
 */
export async function runningFfmpegChildren(): Promise<number> {
  let count = 0;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const match = /^\d+ \((.*)\) (\S) (\d+)/.exec(await readFile(`/proc/${entry}/stat`, 'utf8'));
      if (match && match[1]!.includes('ffmpeg') && match[2] !== 'Z' && Number(match[3]) === process.pid) count++;
    } catch {
      // exited meanwhile
    }
  }
  return count;
}

/** Runs `work` while sampling runningFfmpegChildren(); returns its result and the most seen at once. */
export async function withFfmpegPeak<T>(work: () => Promise<T>): Promise<{ result: T; most: number }> {
  let most = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      most = Math.max(most, await runningFfmpegChildren());
      await sleep(5);
    }
  })();
  try {
    const result = await work();
    return { result, most };
  } finally {
    sampling = false;
    await sampler;
  }
}
