/** Audio whose length is out of proportion to its size, or other than its header says. */

import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { wavHeader } from '../../src/audio/wav.js';
import { generate } from './fixtures.js';

/**
 * The decode bomb: a 95,724-byte WAV of 16-bit mono at 1 Hz, so its 95,680 data bytes are
 * 47,840 s of audio, 1.5 GB once resampled to 16 kHz.
 */
export function bombWav(): Buffer {
  const dataBytes = 95_680;
  // 16-bit mono at 1 Hz: 2 bytes a second.
  const wav = Buffer.concat([wavHeader(dataBytes, 1), Buffer.alloc(dataBytes)]);
  // A little noise, so no codec or filter can treat it as nothing.
  for (let i = 44; i < wav.length; i += 97) wav[i] = i & 0xff;
  return wav;
}

/**
 * A FLAC of `realSeconds` whose STREAMINFO claims `claimedSeconds`: the header check believes the
 * claim, ffmpeg decodes every frame.
 */
export async function understatedFlac(dir: string, { realSeconds, claimedSeconds }: { realSeconds: number; claimedSeconds: number }): Promise<string> {
  const rate = 8_000;
  const file = await generate(path.join(dir, `understated-${realSeconds}-${claimedSeconds}.flac`), `sine=frequency=300:sample_rate=${rate}:duration=${realSeconds}`, [
    '-c:a', 'flac',
  ]);
  const flac = await readFile(file);
  if (flac.toString('latin1', 0, 4) !== 'fLaC' || (flac[4]! & 0x7f) !== 0) throw new Error('expected STREAMINFO first');
  // STREAMINFO's body starts at byte 8; its 36-bit sample count at body byte 13 (low nibble) to 17.
  const samples = claimedSeconds * rate;
  flac[8 + 13] = (flac[8 + 13]! & 0xf0) | Math.floor(samples / 2 ** 32);
  flac.writeUInt32BE(samples % 2 ** 32, 8 + 14);
  await writeFile(file, flac);
  return file;
}
