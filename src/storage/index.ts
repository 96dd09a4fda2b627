import type { StorageConfig } from '../config.js';
import type { BlobStore } from './blob-store.js';
import { LocalBlobStore } from './local.js';
import { S3BlobStore } from './s3.js';

export { BlobNotFoundError, assertSafeKey } from './blob-store.js';
export type { BlobRange, BlobReadResult, BlobStore, StoredBlob } from './blob-store.js';
export { LocalBlobStore } from './local.js';
export { S3BlobStore } from './s3.js';

export function createBlobStore(config: StorageConfig): BlobStore {
  switch (config.backend) {
    case 'local':
      return new LocalBlobStore(config.dir);
    case 's3':
      return new S3BlobStore(config);
  }
}
