import { sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import type { AppDatabase } from '../db/client.js';
import { queryRows } from '../db/client.js';
import { asSystem } from '../db/scope.js';
import { AppError } from '../http/errors.js';
import type { WebhookMetrics } from '../metrics/metrics.js';
import { iso } from './service.js';
import { postWebhook } from './post.js';
import { sign } from './signing.js';
import { assertDeliverableUrl, type UrlGuardOptions } from './url-guard.js';

export interface DeliverOptions {
  allowPrivate: boolean;
  timeoutMs: number;
  maxAttempts: number;
  /** The clock; for tests. */
  now?: () => Date;
  /** Deliveries claimed per call (default 20). */
  batchSize?: number;
  /** First retry delay; doubles per attempt (default 5 s). */
  backoffBaseMs?: number;
  /** Longest retry delay (default 1 h). */
  backoffMaxMs?: number;
  resolve?: UrlGuardOptions['resolve'];
}

export interface DeliverResult {
  claimed: number;
  delivered: number;
  retrying: number;
  failed: number;
}

interface Claimed {
  id: string;
  event: string;
  payload: unknown;
  message_id: string;
  attempts: number;
  created_at: Date | string;
  url: string;
  secret: string;
}

const MAX_ERROR_LENGTH = 500;

/** Delay before the next try after `attempts` failed ones: base · 2^(attempts-1), capped. */
export function backoffMs(attempts: number, baseMs = 5_000, maxMs = 3_600_000): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempts - 1));
}

/** The exact body a delivery sends; stable across retries. */
export function deliveryBody(delivery: { event: string; payload: unknown; created_at: Date | string }): string {
  return JSON.stringify({ type: delivery.event, timestamp: iso(delivery.created_at), data: delivery.payload });
}

type Outcome = { ok: true; status: number } | { ok: false; status: number | null; error: string };

async function attempt(delivery: Claimed, options: DeliverOptions, now: Date): Promise<Outcome> {
  try {
    await assertDeliverableUrl(delivery.url, { allowPrivate: options.allowPrivate, resolve: options.resolve });
  } catch (error) {
    return { ok: false, status: null, error: error instanceof AppError ? error.message : String(error) };
  }
  const body = deliveryBody(delivery);
  const timestamp = Math.floor(now.getTime() / 1000);
  try {
    // The address is checked again as the socket connects (postWebhook), so a hostname re-pointed
    // after the check above still cannot reach an internal address.
    const status = await postWebhook(new URL(delivery.url), {
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Transcribo-Webhooks/1',
        'webhook-id': delivery.message_id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': sign(delivery.secret, delivery.message_id, timestamp, body),
      },
      body,
      timeoutMs: options.timeoutMs,
      allowPrivate: options.allowPrivate,
      resolve: options.resolve,
    });
    // A redirect could point anywhere, internal addresses included: it counts as a failure.
    if (status >= 200 && status < 300) return { ok: true, status };
    return { ok: false, status, error: `HTTP ${status}` };
  } catch (error) {
    const name = error instanceof Error ? error.name : '';
    if (name === 'TimeoutError' || name === 'AbortError') {
      return { ok: false, status: null, error: `timed out after ${options.timeoutMs} ms` };
    }
    const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return { ok: false, status: null, error: `${error instanceof Error ? error.message : String(error)}${cause}` };
  }
}

/**
 * Sends due pending deliveries, at most `batchSize` per call. Claiming is a short transaction
 * (FOR UPDATE SKIP LOCKED) that pushes each claimed row's next_attempt_at past the attempt's
 * timeout, so concurrent dispatchers skip it without a transaction held open across HTTP calls;
 * a crashed dispatcher's claims come due again by themselves. Every try of one delivery carries
 * the same webhook-id, so receivers can de-duplicate.
 */
export async function deliverDue(db: AppDatabase, options: DeliverOptions): Promise<DeliverResult> {
  const clock = options.now ?? (() => new Date());
  // Due-ness and retry times use the database's clock unless a test gives one: app servers' clocks
  // may disagree with it and with each other.
  const dbNow = () => (options.now ? sql`${options.now().toISOString()}::timestamptz` : sql`now()`);
  const leaseMs = options.timeoutMs + 30_000;
  const claimed = await asSystem(db, 'webhook dispatcher: deliveries of every user', async (tx) => {
    const rows = await queryRows<Claimed>(
      tx,
      sql`select d.id, d.event, d.payload, d.message_id, d.attempts, d.created_at, w.url, w.secret
          from webhook_deliveries d
          join webhooks w on w.id = d.webhook_id and w.user_id = d.user_id
          where d.status = 'pending' and d.next_attempt_at <= ${dbNow()}
            and w.disabled_at is null
          order by d.next_attempt_at, d.id
          limit ${options.batchSize ?? 20}
          for update of d skip locked`,
    );
    if (rows.length > 0) {
      await tx.execute(
        sql`update webhook_deliveries set next_attempt_at = ${dbNow()} + ${leaseMs}::double precision * interval '1 millisecond'
            where id = any(${`{${rows.map((r) => r.id).join(',')}}`}::uuid[])`,
      );
    }
    return rows;
  });

  const result: DeliverResult = { claimed: claimed.length, delivered: 0, retrying: 0, failed: 0 };
  await Promise.all(
    claimed.map(async (delivery) => {
      const outcome = await attempt(delivery, options, clock());
      const attempts = Number(delivery.attempts) + 1;
      await asSystem(db, 'webhook dispatcher: record an attempt', async (tx) => {
        if (outcome.ok) {
          result.delivered++;
          await tx.execute(
            sql`update webhook_deliveries
                set status = 'delivered', attempts = ${attempts}, last_status_code = ${outcome.status},
                    last_error = null, delivered_at = ${dbNow()}
                where id = ${delivery.id}`,
          );
          return;
        }
        const exhausted = attempts >= options.maxAttempts;
        if (exhausted) result.failed++;
        else result.retrying++;
        const delayMs = backoffMs(attempts, options.backoffBaseMs, options.backoffMaxMs);
        await tx.execute(
          sql`update webhook_deliveries
              set status = ${exhausted ? 'failed' : 'pending'}, attempts = ${attempts},
                  last_status_code = ${outcome.status}, last_error = ${outcome.error.slice(0, MAX_ERROR_LENGTH)},
                  next_attempt_at = ${dbNow()} + ${delayMs}::double precision * interval '1 millisecond'
              where id = ${delivery.id}`,
        );
      });
    }),
  );
  return result;
}

export interface DispatcherOptions extends DeliverOptions {
  intervalMs: number;
  log?: FastifyBaseLogger;
  metrics?: WebhookMetrics;
}

/** Runs deliverDue every intervalMs (never two at once); stop() waits for the running pass. */
export class WebhookDispatcher {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly db: AppDatabase,
    private readonly options: DispatcherOptions,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs);
    this.timer.unref();
  }

  /** One pass now, unless one is already running; resolves when it ends. */
  tick(): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      try {
        // A full batch means more may be due: keep going until a short one.
        const batch = this.options.batchSize ?? 20;
        for (let i = 0; i < 10; i++) {
          const result = await deliverDue(this.db, this.options);
          this.options.metrics?.webhookAttempts(result);
          if (result.claimed < batch || !this.timer) break;
        }
      } catch (error) {
        this.options.log?.error({ err: error }, 'webhook delivery pass failed');
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
