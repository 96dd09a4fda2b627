import path from 'node:path';
import type { Reader } from './reader.js';

export type StorageConfig =
  | { backend: 'local'; dir: string }
  | {
      backend: 's3';
      bucket: string;
      endpoint: string | null;
      region: string;
      accessKeyId: string | null;
      secretAccessKey: string | null;
      forcePathStyle: boolean;
    };

export function readStorage(read: Reader, dataDir: string): StorageConfig {
  const bucket = read.optional('S3_BUCKET');
  if (!bucket) return { backend: 'local', dir: path.join(dataDir, 'blobs') };
  const endpoint = read.url('S3_ENDPOINT', ['http:', 'https:']);
  return {
    backend: 's3',
    bucket,
    endpoint,
    region: read.string('S3_REGION', 'us-east-1'),
    accessKeyId: read.optional('S3_ACCESS_KEY_ID'),
    secretAccessKey: read.optional('S3_SECRET_ACCESS_KEY'),
    // MinIO, Supabase Storage and most self-hosted S3 need path-style; AWS itself does not.
    forcePathStyle: read.bool('S3_FORCE_PATH_STYLE', endpoint !== null),
  };
}
