import { tmpdir } from 'node:os';
import type { FastifyBaseLogger } from 'fastify';
import { uploadTempDir, type AudioIntakeOptions } from '../recordings/audio-intake.js';
import { JOB_TEMP, removeLeftovers, UPLOAD_TEMP } from './leftovers.js';

/**
 * Run at start-up by the API and by workers: removes the job folders and half-received uploads
 * of processes that died without cleaning up. A failure is logged, never fatal.
 */
export async function removeDeadProcessTemp(
  intake: Pick<AudioIntakeOptions, 'tempDir'>,
  log: Pick<FastifyBaseLogger, 'info' | 'warn'>,
): Promise<void> {
  for (const [dir, kind] of [
    [tmpdir(), JOB_TEMP],
    [uploadTempDir(intake), UPLOAD_TEMP],
  ] as const) {
    try {
      const removed = await removeLeftovers(dir, kind);
      if (removed.length > 0) log.info({ dir, removed }, 'removed temp files left by processes that are gone');
    } catch (error) {
      log.warn({ err: error, dir }, 'could not clear temp files left by dead processes');
    }
  }
}
