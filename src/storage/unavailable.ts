import { AppError } from '../http/errors.js';

/**
 * Filesystem errors that say the store's folder cannot be used right now (gone, replaced, read-only,
 * full, not ours), as opposed to one blob being absent.
 */
const FOLDER_TROUBLE = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT', 'EIO', 'ENOTDIR', 'ENOENT', 'EEXIST', 'EMFILE', 'ENFILE', 'EBUSY', 'ESTALE', 'ENODEV', 'ENXIO']);

/** Network errors on the way to an S3 endpoint. */
const NETWORK_TROUBLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A folder the store (or its upload staging) cannot use is storage_unavailable; other errors pass as they are. */
export function folderFailure(error: unknown): unknown {
  const code = errnoCode(error);
  return code !== undefined && FOLDER_TROUBLE.has(code) ? storageUnavailable(error) : error;
}

export function isNetworkTrouble(error: unknown): boolean {
  const code = errnoCode(error);
  return (code !== undefined && NETWORK_TROUBLE.has(code)) || (error instanceof Error && error.name === 'TimeoutError');
}

/**
 * What a client is told when the blob store cannot be used: 503 storage_unavailable with a
 * Retry-After, never a 500. The cause (with paths and hosts) stays in the server log.
 */
export function storageUnavailable(cause: unknown): AppError {
  return new AppError('storage_unavailable', 'The file storage cannot be reached right now; try again shortly', undefined, undefined, {
    cause,
  });
}
