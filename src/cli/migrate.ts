import { configOrExit, describeDatabase, prepareDatabase } from '../bootstrap.js';

const config = configOrExit();
// On the embedded database this starts the server, migrates and stops it again.
const { database, migrations: result } = await prepareDatabase(config, 'api');
try {
  console.log(
    `${describeDatabase(config)}: applied ${result.applied.length} migration(s)` +
      (result.applied.length ? ` (${result.applied.join(', ')})` : '') +
      `, ${result.skipped.length} already in place`,
  );
} finally {
  await database.close();
}
