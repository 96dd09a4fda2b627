import { and, desc, eq, isNull, lt, sql } from 'drizzle-orm';
import type { AppDatabase } from '../db/client.js';
import { newId } from '../db/ids.js';
import { apiKeys } from '../db/schema.js';
import { asSystem, withUser } from '../db/scope.js';
import { errors } from '../http/errors.js';
import { isApiKeyScope, type ApiKeyScope } from './scopes.js';
import { randomToken, sha256Hex } from './secrets.js';

export const API_KEY_PREFIX = 'trb_';

// Writing last_used_at on every request would turn reads into writes; a minute is precise enough.
const LAST_USED_RESOLUTION_MS = 60_000;

export interface PublicApiKey {
  id: string;
  name: string;
  prefix: string;
  scopes: ApiKeyScope[];
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface VerifiedApiKey {
  userId: string;
  scopes: ApiKeyScope[];
}

type ApiKeyRow = typeof apiKeys.$inferSelect;

/** Only scopes this version knows count; one written by a newer version grants nothing here. */
function knownScopes(row: ApiKeyRow): ApiKeyScope[] {
  return row.scopes.filter(isApiKeyScope);
}

function publicApiKey(row: ApiKeyRow): PublicApiKey {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: knownScopes(row),
    created_at: row.createdAt.toISOString(),
    expires_at: row.expiresAt?.toISOString() ?? null,
    last_used_at: row.lastUsedAt?.toISOString() ?? null,
    revoked_at: row.revokedAt?.toISOString() ?? null,
  };
}

/** API keys (`trb_…`): long-lived bearer credentials, stored only as their SHA-256. */
export class ApiKeys {
  constructor(private readonly db: AppDatabase) {}

  async create(
    userId: string,
    input: { name: string; expiresInDays?: number; scopes?: ApiKeyScope[] },
  ): Promise<PublicApiKey & { key: string }> {
    const key = `${API_KEY_PREFIX}${randomToken(24)}`;
    const expiresAt = input.expiresInDays ? new Date(Date.now() + input.expiresInDays * 86_400_000) : null;
    const row = await withUser(this.db, userId, async (tx) => {
      const [created] = await tx
        .insert(apiKeys)
        .values({
          id: newId(),
          userId,
          name: input.name,
          prefix: key.slice(0, API_KEY_PREFIX.length + 6),
          keyHash: sha256Hex(key),
          expiresAt,
          scopes: [...new Set(input.scopes ?? [])],
        })
        .returning();
      return created!;
    });
    return { ...publicApiKey(row), key };
  }

  list(userId: string): Promise<PublicApiKey[]> {
    return withUser(this.db, userId, async (tx) => {
      const rows = await tx.select().from(apiKeys).orderBy(desc(apiKeys.id));
      return rows.map(publicApiKey);
    });
  }

  async revoke(userId: string, id: string): Promise<void> {
    const revoked = await withUser(this.db, userId, async (tx) => {
      const rows = await tx
        .update(apiKeys)
        .set({ revokedAt: new Date() })
        .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
        .returning({ id: apiKeys.id });
      if (rows.length > 0) return true;
      const [existing] = await tx.select({ id: apiKeys.id }).from(apiKeys).where(eq(apiKeys.id, id));
      return existing !== undefined;
    });
    if (!revoked) throw errors.notFound('API key');
  }

  async verify(key: string): Promise<VerifiedApiKey> {
    const keyHash = sha256Hex(key);
    return asSystem(this.db, 'API keys are looked up by hash', async (tx) => {
      const [row] = await tx.select().from(apiKeys).where(eq(apiKeys.keyHash, keyHash));
      if (!row || row.revokedAt) throw errors.invalidToken('Unknown or revoked API key');
      if (row.expiresAt && row.expiresAt.getTime() <= Date.now()) {
        throw errors.invalidToken('This API key has expired');
      }
      const stale = new Date(Date.now() - LAST_USED_RESOLUTION_MS);
      if (!row.lastUsedAt || row.lastUsedAt < stale) {
        await tx
          .update(apiKeys)
          .set({ lastUsedAt: new Date() })
          .where(and(eq(apiKeys.id, row.id), sql`(${apiKeys.lastUsedAt} is null or ${lt(apiKeys.lastUsedAt, stale)})`));
      }
      return { userId: row.userId, scopes: knownScopes(row) };
    });
  }
}
