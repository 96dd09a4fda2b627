import type { StorageConfig } from '../config.js';
import type { BlobStore } from './blob-store.js';
import { LocalBlobStore } from './local.js';

export { BlobNotFoundError, assertSafeKey } from './blob-store.js';
export type { BlobRange, BlobReadResult, BlobStore, StoredBlob } from './blob-store.js';
export { LocalBlobStore } from './local.js';
// S3BlobStore is not re-exported: importing it loads the AWS SDK (tens of MB), which only an
// S3_BUCKET deployment should pay for. Import it from './s3.js' where it is really wanted.

export async function createBlobStore(config: StorageConfig): Promise<BlobStore> {
  switch (config.backend) {
    case 'local':
      return new LocalBlobStore(config.dir);
    case 's3': {
      const { S3BlobStore } = await import('./s3.js');
      return new S3BlobStore(config);
    }
  }
}
