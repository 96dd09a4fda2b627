import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { asc, eq, gt, sql } from 'drizzle-orm';
import { ADMIN_ROLE, USER_ROLE } from '../auth/roles.js';
import type { Config } from '../config.js';
import { LLM_PROVIDERS } from '../config.js';
import type { AppDatabase, Tx } from '../db/client.js';
import { users } from '../db/schema.js';
import { asSystem } from '../db/scope.js';
import { AppError, errors } from '../http/errors.js';
import { toPage } from '../http/pagination.js';
import { findExecutable } from '../process/find-executable.js';
import { findModel, MODELS } from '../transcription/models/registry.js';

export const ROLES = [USER_ROLE, ADMIN_ROLE] as const;
export type Role = (typeof ROLES)[number];

export interface AdminUser {
  id: string;
  email: string | null;
  role: string;
  created_at: string;
  usage: { llm_input_tokens: number; llm_output_tokens: number; audio_minutes: number };
}

export interface AdminStatus {
  engines: {
    default: string;
    whisper: {
      model: string;
      models_dir: string;
      model_present: boolean;
      present: Array<{ file: string; name: string | null }>;
    };
    openai: { configured: boolean; model: string };
    sphinx: { binary: string; available: boolean };
  };
  llm: { provider: string | null; model: string; configured: string[] };
  queue: { mode: 'inline' | 'bullmq'; dashboard: string | null };
}

export interface AdminServiceOptions {
  db: AppDatabase;
  config: Config;
  queueMode: 'inline' | 'bullmq';
  /** Where bull-board answers (with its trailing slash); null when it is not mounted. */
  dashboardPath: string | null;
}

/**
 * What the admin screens read and change across accounts. Every call goes through asSystem: the
 * routes (src/admin/routes.ts) let only admins reach it, so row-level security would only hide
 * the other accounts an admin is here to see.
 */
export class AdminService {
  constructor(private readonly options: AdminServiceOptions) {}

  async listUsers(query: { limit: number; cursor?: string; since?: string }): Promise<{ items: AdminUser[]; next_cursor: string | null }> {
    const rows = await asSystem(this.options.db, 'admins list every account with its usage', (tx) =>
      withUsage(tx, query.since)
        .where(query.cursor ? gt(users.id, query.cursor) : undefined)
        .orderBy(asc(users.id))
        .limit(query.limit + 1),
    );
    return toPage(rows, query.limit, toAdminUser);
  }

  /** Sets an account's role. An admin cannot demote themself: that could leave no admin at all. */
  async setRole(actorId: string, userId: string, role: Role): Promise<AdminUser> {
    if (actorId === userId && role !== ADMIN_ROLE) {
      throw new AppError('admin_self_demotion', 'You cannot take away your own admin role; ask another admin');
    }
    const row = await asSystem(this.options.db, 'admins change other accounts roles', async (tx) => {
      const [changed] = await tx.update(users).set({ role, updatedAt: new Date() }).where(eq(users.id, userId)).returning({ id: users.id });
      if (!changed) return undefined;
      const [one] = await withUsage(tx, undefined).where(eq(users.id, userId));
      return one;
    });
    if (!row) throw errors.notFound('User');
    return toAdminUser(row);
  }

  async status(): Promise<AdminStatus> {
    const { stt, llm } = this.options.config;
    const files = await readdir(stt.whisper.modelsDir).catch(() => [] as string[]);
    const present = files
      .filter((file) => file.endsWith('.bin'))
      .sort()
      .map((file) => ({ file, name: MODELS.find((model) => model.file === file)?.name ?? null }));
    const named = findModel(stt.whisper.model);
    const modelPresent = named ? files.includes(named.file) : existsSync(path.resolve(stt.whisper.model));
    return {
      engines: {
        default: stt.defaultEngine,
        whisper: { model: stt.whisper.model, models_dir: stt.whisper.modelsDir, model_present: modelPresent, present },
        openai: { configured: Boolean(stt.openai.apiKey || stt.openai.baseUrl), model: stt.openai.model },
        sphinx: {
          binary: stt.sphinx.binary,
          available: findExecutable(stt.sphinx.binary, process.env.PATH ?? '') !== null,
        },
      },
      llm: {
        provider: llm.provider,
        model: llm.model,
        configured: LLM_PROVIDERS.filter((name) => Boolean(llm[name].apiKey || llm[name].baseUrl)),
      },
      queue: { mode: this.options.queueMode, dashboard: this.options.dashboardPath },
    };
  }
}

/** Accounts with their usage summed, over all time or from `since` on (a select to add where/order to). */
function withUsage(tx: Tx, since: string | undefined) {
  const from = since ? new Date(since).toISOString() : null;
  // Pending llm_usage rows are reservations made before a call, not tokens spent.
  // `users.id` spelt out: drizzle writes a one-table select's columns unqualified, which inside
  // the subqueries would name their own tables' id.
  const llmSince = from ? sql`and l.created_at >= ${from}` : sql``;
  const audioSince = from ? sql`and t.completed_at >= ${from}` : sql``;
  return tx
    .select({
      id: users.id,
      email: users.email,
      role: users.role,
      createdAt: users.createdAt,
      input: sql<string>`coalesce((select sum(l.input_tokens) from llm_usage l where l.user_id = users.id and not l.pending ${llmSince}), 0)`,
      output: sql<string>`coalesce((select sum(l.output_tokens) from llm_usage l where l.user_id = users.id and not l.pending ${llmSince}), 0)`,
      seconds: sql<string>`coalesce((select sum(t.duration_seconds) from transcriptions t where t.user_id = users.id and t.status = 'completed' ${audioSince}), 0)`,
    })
    .from(users)
    .$dynamic();
}

type UsageRow = Awaited<ReturnType<ReturnType<typeof withUsage>['execute']>>[number];

function toAdminUser(row: UsageRow): AdminUser {
  return {
    id: row.id,
    email: row.email,
    role: row.role,
    created_at: row.createdAt.toISOString(),
    usage: {
      // Sums come back from PostgreSQL as numeric strings.
      llm_input_tokens: Number(row.input),
      llm_output_tokens: Number(row.output),
      // Two decimals: enough to tell a short clip from nothing, without float noise.
      audio_minutes: Math.round((Number(row.seconds) / 60) * 100) / 100,
    },
  };
}
