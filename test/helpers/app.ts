import { after, before, describe } from 'node:test';
import { buildApp, type App } from '../../src/app.js';
import type { Config, Env } from '../../src/config.js';
import type { Database } from '../../src/db/client.js';
import type { RuntimeOverrides } from '../../src/runtime.js';
import { testConfig } from './config.js';
import { createTestDatabase, type DbKind } from './databases.js';

export interface TestApp {
  app: App;
  config: Config;
  database: Database;
  kind: DbKind;
  close(): Promise<void>;
}

export interface TestAppOptions {
  overrides?: RuntimeOverrides;
  /** Start the job workers (off by default: most suites never queue work). */
  startQueue?: boolean;
  /** Registers more plugins or routes on the built app before it is made ready. */
  beforeReady?: (app: App, database: Database) => Promise<void> | void;
}

export async function startTestApp(kind: DbKind, env: Env = {}, options: TestAppOptions = {}): Promise<TestApp> {
  const config = testConfig(env);
  const testDb = await createTestDatabase();
  const app = await buildApp({
    config,
    database: testDb.database,
    overrides: { queue: { pollMs: 100, leaseMs: 5_000 }, ...options.overrides },
  });
  try {
    await options.beforeReady?.(app, testDb.database);
    await app.ready();
  } catch (error) {
    await app.close().catch(() => undefined);
    await testDb.drop();
    throw error;
  }
  if (options.startQueue) await app.runtime.queue.start();
  return {
    app,
    config,
    database: testDb.database,
    kind,
    close: async () => {
      await app.close();
      await testDb.drop();
    },
  };
}

/** A suite with its own fresh database and app, closed when the suite ends. */
export function describeEachDatabase(
  name: string,
  body: (ctx: () => TestApp) => void,
  env: Env = {},
  options: TestAppOptions = {},
): void {
  const kind: DbKind = 'postgres';
  describe(`${name} [${kind}]`, () => {
    let current: TestApp | undefined;
    before(async () => {
      current = await startTestApp(kind, env, options);
    });
    after(async () => {
      await current?.close();
    });
    body(() => {
      if (!current) throw new Error('test app not started');
      return current;
    });
  });
}
