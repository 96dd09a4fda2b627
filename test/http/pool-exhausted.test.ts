import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildApp } from '../../src/app.js';
import { openDatabase } from '../../src/db/client.js';
import { testConfig } from '../helpers/config.js';
import { createTestDatabase } from '../helpers/databases.js';
import { bearer, registerUser } from '../helpers/factory.js';

test('a request that finds every database connection busy is 503 with Retry-After, not 500; then it works again', async () => {
  const testDb = await createTestDatabase();
  // The same database through a pool of two that waits half a second for a connection.
  const database = await openDatabase({ url: testDb.url, poolSize: 2, poolWaitMs: 500 });
  const app = await buildApp({ config: testConfig(), database });
  try {
    await app.ready();
    const user = await registerUser(app);
    // Every connection the pool may open, taken as a burst of long requests would take them.
    const held = await Promise.all([database.pool.connect(), database.pool.connect()]);
    const busy = await app.inject({ method: 'GET', url: '/api/v1/audio/', headers: bearer(user.accessToken) });
    for (const client of held) client.release();
    assert.equal(busy.statusCode, 503, busy.body);
    assert.equal(busy.json<{ code: string }>().code, 'service_unavailable');
    assert.equal(busy.headers['retry-after'], '1');
    const after = await app.inject({ method: 'GET', url: '/api/v1/audio/', headers: bearer(user.accessToken) });
    assert.equal(after.statusCode, 200, after.body);
  } finally {
    await app.close();
    await database.close();
    await testDb.drop();
  }
});
