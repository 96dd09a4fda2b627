import { readdir } from 'node:fs/promises';
import path from 'node:path';

/** Every file under `dir`, at any depth: none where `dir` does not exist (the blob store before its first upload). */
export async function filesUnder(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
  } catch {
    return [];
  }
}
