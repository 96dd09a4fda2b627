/** ID3 tags, which MP3 (and some FLAC) files carry around the audio: parsers skip them. */

import type { FileWindow } from './file-window.js';

const MAX_TAGS = 8;

/** Bytes taken by the ID3v2 tags at `offset` (several may follow each other), 0 when there is none. */
export async function id3v2Length(file: FileWindow, offset = 0): Promise<number> {
  let at = offset;
  // Real files have one, rarely two; a long run of empty tags is only a way to make us read forever.
  for (let tags = 0; tags < MAX_TAGS; tags++) {
    const header = await file.read(at, 10);
    if (header.length < 10 || header.toString('latin1', 0, 3) !== 'ID3') return at - offset;
    // The size is "syncsafe": 4 bytes of 7 bits each.
    const size = ((header[6]! & 0x7f) << 21) | ((header[7]! & 0x7f) << 14) | ((header[8]! & 0x7f) << 7) | (header[9]! & 0x7f);
    const footer = (header[5]! & 0x10) !== 0 ? 10 : 0;
    at += 10 + size + footer;
  }
  return at - offset;
}

/** Bytes taken by an ID3v1 tag ("TAG" in the last 128 bytes), 0 when there is none. */
export async function id3v1Length(file: FileWindow): Promise<number> {
  if (file.size < 128) return 0;
  const tail = await file.read(file.size - 128, 3);
  return tail.toString('latin1') === 'TAG' ? 128 : 0;
}
