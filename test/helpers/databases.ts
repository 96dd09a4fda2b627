import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import pg from 'pg';
import { openDatabase, type Database } from '../../src/db/client.js';
import { migrate, MIGRATIONS_DIR } from '../../src/db/migrate.js';

/** The one engine the suites run on; kept as a name so suite titles say what they ran against. */
export type DbKind = 'postgres';
export const DB_KINDS: DbKind[] = ['postgres'];

/**
 * The server tests create their throwaway databases on: TEST_DATABASE_URL, which `npm test`
 * points at an embedded PostgreSQL when nothing answers at the default address.
 */
export const POSTGRES_ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export const IN_CI = Boolean(process.env.CI);

export interface TestDatabase {
  database: Database;
  /** postgres://… of the throwaway database. */
  url: string;
  drop(): Promise<void>;
}

async function admin<T>(work: (client: pg.Client) => Promise<T>, database?: string): Promise<T> {
  const url = new URL(POSTGRES_ADMIN_URL);
  if (database) url.pathname = `/${database}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function urlOf(name: string): string {
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

// Any constant: serialises the test processes that would otherwise build the template at once.
const TEMPLATE_LOCK = 7_262_521_812;

/** Named after the migrations' contents, so a changed or added migration gets a new template. */
async function templateName(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).sort()) {
    hash.update(file).update(await readFile(`${MIGRATIONS_DIR}/${file}`));
  }
  return `transcribo_tpl_${hash.digest('hex').slice(0, 16)}`;
}

let template: Promise<string> | null = null;

/**
 * One migrated database per set of migrations, built once by whichever test process gets there
 * first; every suite's database is a copy of it, which takes a fraction of a second.
 */
function migratedTemplate(): Promise<string> {
  template ??= (async () => {
    const name = await templateName();
    await admin(async (client) => {
      await client.query('select pg_advisory_lock($1)', [TEMPLATE_LOCK]);
      try {
        const found = await client.query('select 1 from pg_database where datname = $1', [name]);
        if (found.rowCount) return;
        // Templates of other migration sets go once they are an hour old: a run of another
        // checkout (another branch, a CI clone) may be copying from its own one right now.
        const stale = await client.query<{ datname: string }>(
          `select datname from pg_database
            where (datname like 'transcribo_tpl_%' or datname like 'transcribo_build_%')
              and coalesce(nullif(shobj_description(oid, 'pg_database'), '')::bigint, 0) < extract(epoch from now()) - 3600`,
        );
        for (const { datname } of stale.rows) await client.query(`drop database if exists ${datname} with (force)`);
        // Built under another name and renamed when complete: a killed run leaves no half template.
        const building = `transcribo_build_${randomBytes(4).toString('hex')}`;
        await client.query(`create database ${building}`);
        await client.query(`comment on database ${building} is '${Math.floor(Date.now() / 1000)}'`);
        const database = await openDatabase({ url: urlOf(building), poolSize: 1 });
        try {
          await migrate(database.db);
        } finally {
          await database.close();
        }
        await client.query(`alter database ${building} rename to ${name}`);
      } finally {
        await client.query('select pg_advisory_unlock($1)', [TEMPLATE_LOCK]);
      }
    });
    return name;
  })();
  return template;
}

/** A new database, copied from `template` or empty, with a pool on it; drop() removes both. */
async function throwawayDatabase(template: string | null, poolSize: number): Promise<TestDatabase> {
  const name = `transcribo_test_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(template ? `create database ${name} template ${template}` : `create database ${name}`));
  const url = urlOf(name);
  const database = await openDatabase({ url, poolSize });
  return {
    database,
    url,
    drop: async () => {
      await database.close();
      await admin((c) => c.query(`drop database if exists ${name} with (force)`));
    },
  };
}

/** A fresh, migrated database on the PostgreSQL server, dropped by drop(). */
export async function createTestDatabase(): Promise<TestDatabase> {
  return throwawayDatabase(await migratedTemplate(), 5);
}

/** An empty database (no migrations), for the tests of migrations themselves. */
export function createEmptyDatabase(): Promise<TestDatabase> {
  return throwawayDatabase(null, 2);
}
