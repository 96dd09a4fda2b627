import { configOrExit, describeDatabase, openConfiguredDatabase } from '../bootstrap.js';
import { migrate } from '../db/migrate.js';

const config = configOrExit();
const database = await openConfiguredDatabase(config);
try {
  const result = await migrate(database.db);
  console.log(
    `${describeDatabase(config)}: applied ${result.applied.length} migration(s)` +
      (result.applied.length ? ` (${result.applied.join(', ')})` : '') +
      `, ${result.skipped.length} already in place`,
  );
} finally {
  await database.close();
}
