/**
 * The per-user daily token allowance (LLM_DAILY_TOKEN_LIMIT), held under concurrency.
 *
 * Every provider call first reserves what it may cost (its prompt's estimate plus the most it
 * may answer) as a pending row in `llm_usage`, under a per-user lock, only if the day's rows leave
 * room for it. The call is then told to answer in at most what was reserved, and the row is
 * settled to the usage the provider reports. The lock and the rows live in PostgreSQL, so
 * the limit holds across requests, job workers and processes.
 */

import { and, eq, sql } from 'drizzle-orm';
import type { LlmConfig, LlmProviderName } from '../config.js';
import { queryRows, type AppDatabase, type Tx } from '../db/client.js';
import { newId } from '../db/ids.js';
import { llmUsage } from '../db/schema.js';
import { withUser } from '../db/scope.js';
import { AppError } from '../http/errors.js';
import { estimateTokens } from './grounding/tokens.js';
import type { TokenUsage } from './providers/provider.js';

/** An answer allowed fewer tokens than this is not worth a call: the request is refused instead. */
export const MIN_OUTPUT_TOKENS = 16;

/** Namespace of the per-user advisory locks (the two-key form, apart from single-key locks). */
const QUOTA_LOCK_CLASS = 0x71756f74; // 'quot'

/** Today's usage: settled calls and pending reservations, from 00:00 UTC by the database's clock. */
const SPENT_TODAY = (userId: string) => sql`
  select coalesce(sum(input_tokens + output_tokens), 0)::bigint as spent
  from llm_usage
  where user_id = ${userId}::uuid and created_at >= date_trunc('day', now() at time zone 'UTC') at time zone 'UTC'`;

function secondsUntilUtcMidnight(now = new Date()): number {
  const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  return Math.max(1, Math.ceil((midnight - now.getTime()) / 1000));
}

export interface ReservationRequest {
  userId: string;
  purpose: 'chat' | 'summary';
  provider: LlmProviderName;
  model: string;
  /** Estimated tokens of the prompt (estimateMessagesTokens). */
  promptTokens: number;
}

/** How a call that did not complete ended. */
export interface Unfinished {
  /** The client went away, or the job was cancelled: the model may have read and written on. */
  interrupted: boolean;
  /** Text streamed before the end; null when nothing is known of the answer (not streamed). */
  received: string | null;
}

export interface Reservation {
  readonly promptTokens: number;
  /** The `maxTokens` to send: LLM_MAX_OUTPUT_TOKENS, or less when the day's allowance is nearly spent. */
  readonly maxOutputTokens: number;
  /** Replaces the reservation by the usage the provider reported; in `tx` when given (with the answer). */
  settle(usage: TokenUsage, model: string, tx?: Tx): Promise<void>;
  /**
   * A call that failed or was cut short. A provider failure before any output costs nothing and
   * gives the reservation back; otherwise the prompt and what may have been written are charged.
   * Never throws: it runs while another error is on its way to the caller (a reservation it could
   * not write stays counted in full, which errs on the side of the limit).
   */
  abandon(how: Unfinished): Promise<void>;
}

export class TokenQuota {
  constructor(
    private readonly db: AppDatabase,
    private readonly llm: LlmConfig,
  ) {}

  get limited(): boolean {
    return this.llm.dailyTokenLimit > 0;
  }

  /** Today's spent and reserved tokens; read in the caller's transaction. */
  async spentToday(tx: Tx, userId: string): Promise<number> {
    const [row] = await queryRows<{ spent: string }>(tx, SPENT_TODAY(userId));
    return Number(row?.spent ?? 0);
  }

  /**
   * The answer length a prompt of `promptTokens` may have after `spent`; 429 when less than
   * MIN_OUTPUT_TOKENS is left. Without a limit, LLM_MAX_OUTPUT_TOKENS.
   */
  allowance(spent: number, promptTokens: number): number {
    const limit = this.llm.dailyTokenLimit;
    if (limit <= 0) return this.llm.maxOutputTokens;
    const room = limit - spent - promptTokens;
    if (room < Math.min(MIN_OUTPUT_TOKENS, this.llm.maxOutputTokens)) {
      throw new AppError(
        'llm_quota_exceeded',
        `Today's LLM allowance of ${limit} tokens does not cover this request (${spent} spent or reserved, about ` +
          `${promptTokens} for the prompt); it renews at 00:00 UTC`,
        undefined,
        { 'retry-after': String(secondsUntilUtcMidnight()) },
      );
    }
    return Math.min(this.llm.maxOutputTokens, room);
  }

  /**
   * Reserves a call's prompt and answer against today's allowance, or answers 429. Concurrent
   * reservations of one user wait for each other on a transaction-scoped advisory lock, so each
   * sees the rows the previous one wrote.
   */
  async reserve(request: ReservationRequest): Promise<Reservation> {
    if (!this.limited) {
      return this.reservation(request, null, this.llm.maxOutputTokens);
    }
    const id = newId();
    const maxOutputTokens = await withUser(this.db, request.userId, async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${QUOTA_LOCK_CLASS}, hashtext(${request.userId}))`);
      const allowed = this.allowance(await this.spentToday(tx, request.userId), request.promptTokens);
      await tx.insert(llmUsage).values({
        id,
        userId: request.userId,
        purpose: request.purpose,
        provider: request.provider,
        model: request.model,
        inputTokens: request.promptTokens,
        outputTokens: allowed,
        pending: true,
      });
      return allowed;
    });
    return this.reservation(request, id, maxOutputTokens);
  }

  /** `id` null: no limit, nothing reserved; settling records the call's usage for accounting. */
  private reservation(request: ReservationRequest, id: string | null, maxOutputTokens: number): Reservation {
    const { userId } = request;
    const inTx = <T>(tx: Tx | undefined, work: (t: Tx) => Promise<T>) => (tx ? work(tx) : withUser(this.db, userId, work));
    const settle = (usage: TokenUsage, model: string, tx?: Tx) =>
      inTx(tx, async (t) => {
        const values = { model, inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, pending: false };
        if (id === null) {
          await t.insert(llmUsage).values({ id: newId(), userId, purpose: request.purpose, provider: request.provider, ...values });
        } else {
          await t.update(llmUsage).set(values).where(and(eq(llmUsage.id, id), eq(llmUsage.pending, true)));
        }
      });
    return {
      promptTokens: request.promptTokens,
      maxOutputTokens,
      settle,
      abandon: async ({ interrupted, received }) => {
        const produced = received !== null && received.length > 0;
        try {
          if (!interrupted && !produced) {
            if (id !== null) await withUser(this.db, userId, (t) => t.delete(llmUsage).where(and(eq(llmUsage.id, id), eq(llmUsage.pending, true))));
            return;
          }
          // Not streamed, the answer's length is unknown: the model may have written all it was allowed.
          const outputTokens = received === null ? maxOutputTokens : estimateTokens(received);
          await settle({ inputTokens: request.promptTokens, outputTokens }, request.model);
        } catch {
          // Left pending, the reservation counts in full until the day ends: the safe side of the limit.
        }
      },
    };
  }
}

/**
 * Runs a provider call inside its reservation, asking for at most what was reserved. A failure
 * abandons the reservation (see Reservation.abandon) and is rethrown; settling a success is the
 * caller's, with whatever it stores. `client` is the signal of whoever waits for the answer.
 */
export async function withinReservation<T>(
  reservation: Reservation,
  client: AbortSignal,
  call: (maxTokens: number) => Promise<T>,
): Promise<T> {
  try {
    return await call(reservation.maxOutputTokens);
  } catch (error) {
    await reservation.abandon({ interrupted: client.aborted, received: null });
    throw error;
  }
}
