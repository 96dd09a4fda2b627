import { sql } from 'drizzle-orm';
import type { AppDatabase, Queryable } from '../db/client.js';
import { queryRows } from '../db/client.js';
import { newId } from '../db/ids.js';
import { withUser } from '../db/scope.js';
import { errors } from '../http/errors.js';
import { toPage } from '../http/pagination.js';
import { newSecret } from './signing.js';
import { assertDeliverableUrl, type UrlGuardOptions } from './url-guard.js';

export const WEBHOOK_EVENTS = [
  'transcription.completed',
  'transcription.failed',
  'transcription.edited',
  'chat.completed',
  'summary.completed',
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export const MAX_WEBHOOKS_PER_USER = 20;

export interface WebhookView {
  id: string;
  url: string;
  events: string[];
  created_at: string;
  disabled_at: string | null;
}

export interface CreatedWebhook extends WebhookView {
  /** The signing secret; shown once, on creation. */
  secret: string;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface DeliveryView {
  id: string;
  webhook_id: string;
  event: string;
  message_id: string;
  status: DeliveryStatus;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  next_attempt_at: string;
  created_at: string;
  delivered_at: string | null;
}

interface WebhookRow {
  id: string;
  url: string;
  events: string[];
  created_at: Date | string;
  disabled_at: Date | string | null;
}

interface DeliveryRow {
  id: string;
  webhook_id: string;
  event: string;
  message_id: string;
  status: DeliveryStatus;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  next_attempt_at: Date | string;
  created_at: Date | string;
  delivered_at: Date | string | null;
}

export function iso(value: Date | string): string {
  return (value instanceof Date ? value : new Date(value)).toISOString();
}
const isoOrNull = (value: Date | string | null): string | null => (value === null ? null : iso(value));

function view(row: WebhookRow): WebhookView {
  return {
    id: row.id,
    url: row.url,
    events: [...row.events],
    created_at: iso(row.created_at),
    disabled_at: isoOrNull(row.disabled_at),
  };
}

function deliveryView(row: DeliveryRow): DeliveryView {
  return {
    id: row.id,
    webhook_id: row.webhook_id,
    event: row.event,
    message_id: row.message_id,
    status: row.status,
    attempts: Number(row.attempts),
    last_status_code: row.last_status_code === null ? null : Number(row.last_status_code),
    last_error: row.last_error,
    next_attempt_at: iso(row.next_attempt_at),
    created_at: iso(row.created_at),
    delivered_at: isoOrNull(row.delivered_at),
  };
}

/** A Postgres text[] literal bound as one parameter (works the same on pg and PGlite). */
function textArray(values: readonly string[]) {
  return sql`${`{${values.map((v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`}::text[]`;
}

export function isWebhookEvent(value: string): value is WebhookEvent {
  return (WEBHOOK_EVENTS as readonly string[]).includes(value);
}

export interface WebhookServiceOptions {
  allowPrivate: boolean;
  /** For tests: replaces the system resolver in the URL guard. */
  resolve?: UrlGuardOptions['resolve'];
}

const COLUMNS = sql.raw('id, url, events, created_at, disabled_at');

export class WebhookService {
  constructor(
    private readonly db: AppDatabase,
    private readonly options: WebhookServiceOptions,
  ) {}

  async create(userId: string, input: { url: string; events: string[] }): Promise<CreatedWebhook> {
    const events = [...new Set(input.events)];
    if (events.length === 0) {
      throw errors.validation('Subscribe to at least one event', [{ field: 'events', message: 'empty' }]);
    }
    const unknown = events.filter((e) => !isWebhookEvent(e));
    if (unknown.length > 0) {
      throw errors.validation(`Unknown event(s): ${unknown.join(', ')}; known: ${WEBHOOK_EVENTS.join(', ')}`, [
        { field: 'events', message: `unknown: ${unknown.join(', ')}` },
      ]);
    }
    const url = await assertDeliverableUrl(input.url, this.options);
    const secret = newSecret();
    const id = newId();
    return withUser(this.db, userId, async (tx) => {
      const [count] = await queryRows<{ n: number }>(tx, sql`select count(*)::int as n from webhooks`);
      if (Number(count?.n ?? 0) >= MAX_WEBHOOKS_PER_USER) {
        throw errors.conflict(`A user may have at most ${MAX_WEBHOOKS_PER_USER} webhooks`);
      }
      const [row] = await queryRows<WebhookRow>(
        tx,
        sql`insert into webhooks (id, user_id, url, events, secret)
            values (${id}, ${userId}, ${url.toString()}, ${textArray(events)}, ${secret})
            returning ${COLUMNS}`,
      );
      return { ...view(row!), secret };
    });
  }

  list(userId: string): Promise<WebhookView[]> {
    return withUser(this.db, userId, async (tx) =>
      (await queryRows<WebhookRow>(tx, sql`select ${COLUMNS} from webhooks order by id`)).map(view),
    );
  }

  async delete(userId: string, id: string): Promise<void> {
    const deleted = await withUser(this.db, userId, (tx) =>
      queryRows<{ id: string }>(tx, sql`delete from webhooks where id = ${id} returning id`),
    );
    if (deleted.length === 0) throw errors.notFound('Webhook');
  }

  /** Newest first; 404 when the webhook is not the caller's (RLS hides it). */
  deliveries(userId: string, webhookId: string, page: { limit: number; cursor?: string }) {
    return withUser(this.db, userId, async (tx) => {
      const [hook] = await queryRows<{ id: string }>(tx, sql`select id from webhooks where id = ${webhookId}`);
      if (!hook) throw errors.notFound('Webhook');
      const rows = await queryRows<DeliveryRow>(
        tx,
        sql`select id, webhook_id, event, message_id, status, attempts, last_status_code, last_error,
                   next_attempt_at, created_at, delivered_at
            from webhook_deliveries
            where webhook_id = ${webhookId} ${page.cursor ? sql`and id < ${page.cursor}` : sql``}
            order by id desc
            limit ${page.limit + 1}`,
      );
      return toPage(rows, page.limit, deliveryView);
    });
  }
}

/**
 * Queues one pending delivery of `event` per enabled webhook of `userId` subscribed to it, in the
 * caller's transaction (a worker's commit, so the event exists exactly when its cause does).
 * Works under the system role and under withUser alike: every row read and written is the user's.
 * Returns the number of deliveries queued.
 */
export async function enqueueEvent(
  tx: Queryable,
  userId: string,
  event: WebhookEvent,
  payload: Record<string, unknown>,
): Promise<number> {
  const hooks = await queryRows<{ id: string }>(
    tx,
    sql`select id from webhooks
        where user_id = ${userId} and disabled_at is null and ${event} = any(events)
        order by id`,
  );
  for (const hook of hooks) {
    const id = newId();
    await tx.execute(
      sql`insert into webhook_deliveries (id, webhook_id, user_id, event, payload, message_id)
          values (${id}, ${hook.id}, ${userId}, ${event}, ${JSON.stringify(payload)}::jsonb, ${`msg_${id}`})`,
    );
  }
  return hooks.length;
}
