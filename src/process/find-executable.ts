import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';

/** The absolute path `command` runs as (searched on `searchPath` when it has no slash), or null. */
export function findExecutable(command: string, searchPath: string): string | null {
  const candidates = command.includes('/')
    ? [path.resolve(command)]
    : searchPath
        .split(path.delimiter)
        .filter((dir) => dir !== '')
        .map((dir) => path.resolve(dir, command));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here, or not runnable
    }
  }
  return null;
}
