import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe } from 'node:test';
import { sql } from 'drizzle-orm';
import type { AppDatabase } from '../../src/db/client.js';
import { queryRows } from '../../src/db/client.js';
import { newId } from '../../src/db/ids.js';
import { asSystem } from '../../src/db/scope.js';
import { enqueueEvent, WebhookService } from '../../src/webhooks/service.js';
import { createTestDatabase, DB_KINDS, type TestDatabase } from '../helpers/databases.js';

/*
 * Shared by the webhooks-*.test.ts suites: a database of their own with a WebhookService that may
 * target 127.0.0.1 (where receiver() listens), and the reads and writes the tests check it with.
 */

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** An HTTP receiver on 127.0.0.1 answering each request with the next status (the last repeats); null never answers. */
export async function receiver(statuses: (number | null)[]) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      const status = statuses[Math.min(received.length - 1, statuses.length - 1)];
      if (status === null || status === undefined) return; // hang
      res.writeHead(status, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function newUser(db: AppDatabase): Promise<string> {
  const id = newId();
  await asSystem(db, 'test: a user', (tx) => tx.execute(sql`insert into users (id, email) values (${id}, ${`${id}@example.com`})`));
  return id;
}

export interface DeliveryRow {
  id: string;
  status: string;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  message_id: string;
  delivered_at: Date | string | null;
}

export function deliveriesOf(db: AppDatabase, userId: string): Promise<DeliveryRow[]> {
  return asSystem(db, 'test: what is stored', (tx) =>
    queryRows<DeliveryRow>(
      tx,
      sql`select id, status, attempts, last_status_code, last_error, message_id, delivered_at
          from webhook_deliveries where user_id = ${userId} order by id`,
    ),
  );
}

export function makeDue(db: AppDatabase, userId: string) {
  return asSystem(db, 'test: skip the backoff', (tx) =>
    tx.execute(sql`update webhook_deliveries set next_attempt_at = now() where user_id = ${userId}`),
  );
}

/** Earlier tests leave deliveries to hosts that do not exist; each delivery test starts with none due. */
export function settleOthers(db: AppDatabase) {
  return asSystem(db, 'test: a clean queue', (tx) =>
    tx.execute(sql`update webhook_deliveries set status = 'failed' where status = 'pending'`),
  );
}

export function emit(db: AppDatabase, userId: string, event: Parameters<typeof enqueueEvent>[2], data: Record<string, unknown>) {
  return asSystem(db, 'test: a worker emits an event', (tx) => enqueueEvent(tx, userId, event, data));
}

export interface WebhooksContext {
  db: AppDatabase;
  service: WebhookService;
}

/** A suite named 'webhooks [kind]' per database kind, around a fresh database dropped when the suite ends. */
export function describeWebhooks(body: (ctx: () => WebhooksContext) => void): void {
  for (const kind of DB_KINDS) {
    describe(`webhooks [${kind}]`, () => {
      let testDb: TestDatabase | undefined;
      let current: WebhooksContext | undefined;
      before(async () => {
        testDb = await createTestDatabase();
        const db = testDb.database.db;
        current = { db, service: new WebhookService(db, { allowPrivate: true }) };
      });
      after(async () => {
        await testDb?.drop();
      });
      body(() => {
        if (!current) throw new Error('test database not created');
        return current;
      });
    });
  }
}
