/** What an upload really is, from its magic bytes: never from its name or its Content-Type. */

import { open } from 'node:fs/promises';
import { fileTypeFromBuffer } from 'file-type';

/** How many leading bytes sniffAudio needs (file-type's own sample size). */
export const SNIFF_BYTES = 4100;

export interface SniffedAudio {
  /** Canonical MIME type: audio/wav, audio/mpeg, audio/mp4, audio/ogg, audio/webm, audio/flac, … */
  mime: string;
  /** file-type's extension for what it found: wav, mp3, m4a, mp4, ogg, opus, webm, flac, … */
  extension: string;
}

/**
 * Other spellings of the canonical types: what file-type reports, and what people (and the seed's
 * ALLOWED_AUDIO_TYPES) write. WebM and MP4 are video containers to file-type; the decoder keeps
 * only their audio and says so when there is none.
 */
const ALIASES: Readonly<Record<string, string>> = {
  'audio/x-wav': 'audio/wav',
  'audio/wave': 'audio/wav',
  'audio/vnd.wave': 'audio/wav',
  'audio/mp3': 'audio/mpeg',
  'audio/mpeg3': 'audio/mpeg',
  'audio/x-mp3': 'audio/mpeg',
  'audio/x-mpeg': 'audio/mpeg',
  'audio/mpg': 'audio/mpeg',
  'audio/m4a': 'audio/mp4',
  'audio/x-m4a': 'audio/mp4',
  'audio/aac-mp4': 'audio/mp4',
  'video/mp4': 'audio/mp4',
  'audio/opus': 'audio/ogg',
  'audio/vorbis': 'audio/ogg',
  'audio/x-ogg': 'audio/ogg',
  'video/webm': 'audio/webm',
  'audio/x-flac': 'audio/flac',
};

/** Lower-cases, drops parameters (`audio/ogg; codecs=opus` → `audio/ogg`) and resolves aliases. */
export function canonicalAudioType(mime: string): string {
  const bare = (mime.split(';')[0] ?? '').trim().toLowerCase();
  return ALIASES[bare] ?? bare;
}

/** Sniffs the first bytes of a file; null when they are not a known audio format (or empty). */
export async function sniffAudio(head: Uint8Array): Promise<SniffedAudio | null> {
  if (head.length === 0) return null;
  const found = await fileTypeFromBuffer(head.subarray(0, SNIFF_BYTES));
  if (!found) return null;
  const mime = canonicalAudioType(found.mime);
  if (!mime.startsWith('audio/')) return null;
  return { mime, extension: found.ext };
}

/** sniffAudio on the first SNIFF_BYTES of a file on disk. */
export async function sniffAudioFile(file: string): Promise<SniffedAudio | null> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await handle.read(head, 0, SNIFF_BYTES, 0);
    return await sniffAudio(head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

/** Whether a (sniffed) type is on the allow-list, whichever spelling either side uses. */
export function isAllowedAudioType(mime: string, allowed: readonly string[]): boolean {
  const wanted = canonicalAudioType(mime);
  if (wanted === '') return false;
  return allowed.some((entry) => canonicalAudioType(entry) === wanted);
}
