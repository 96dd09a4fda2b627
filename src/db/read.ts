import { Column, fillPlaceholders, is } from 'drizzle-orm';
import { QueryBuilder } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { AppError } from '../http/errors.js';
import type { Database } from './client.js';
import { APP_ROLE } from './scope.js';
import { splitAtParams } from './sql-text.js';
import { isUuid } from './ids.js';

/*
 * Reads under the caller's row-level security in ONE round trip. withUser() costs four (begin,
 * set_config, the statement, commit) because node-postgres does not pipeline. A simple-query
 * message holding several statements runs them as one implicit transaction, so
 *
 *   select set_config('app.user_id', '<uuid>', true), set_config('role', 'transcribo_app', true), …;
 *   select … from recordings …
 *
 * sent as one message sets the scope for exactly that select (set_config(…, true) is SET LOCAL and
 * ends with the implicit transaction) while RLS stays the guard. A simple query has no bind
 * parameters, so the values are inlined as quoted literals. node-postgres sends every parameter as
 * untyped text, and an untyped quoted literal is resolved by the server exactly the same way, so
 * inlining changes nothing but the number of messages. The statement is also made read-only:
 * this path is for reads, and a write slipped into one fails instead of committing.
 */

/** Builds queries that belong to no database: compileRead() turns them into reads. */
export const reads = new QueryBuilder();

/** As drizzle's node-postgres driver: date and time values reach the columns' decoders as text. */
const RAW_TEXT_TYPES = new Set([1082, 1114, 1184, 1186, 1182, 1115, 1185, 1187, 1231]);
const asText = (value: string) => value;
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary'): unknown =>
    RAW_TEXT_TYPES.has(oid) ? asText : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** A select compiled once; each run only fills in its placeholders. */
export interface UserRead<TRow> {
  /** The SQL text with every value inlined as a literal. */
  inline(values: Record<string, unknown>): string;
  /** Turns a row of the driver's values (in select order) into what drizzle would have returned. */
  decode(row: unknown[]): TRow;
}

/** The part of a drizzle select this needs (a `reads.select()…` query). */
interface CompilableSelect {
  toSQL(): { sql: string; params: unknown[] };
  readonly _: { readonly selectedFields: object; readonly result: unknown[]; readonly config: { joins?: unknown[] } };
}

/**
 * Compiles a drizzle select whose varying values are sql.placeholder()s. Only flat selections of
 * columns (a whole table, or `{ name: column }`) are supported: decoding anything else would
 * need drizzle's internals.
 */
export function compileRead<TQuery extends CompilableSelect>(query: TQuery): UserRead<TQuery['_']['result'][number]> {
  if (query._.config.joins?.length) throw new Error('compileRead: joins are not supported');
  const fields = Object.entries(query._.selectedFields as Record<string, unknown>).map(([key, field]) => {
    if (!is(field, Column)) throw new Error(`compileRead: "${key}" is not a column`);
    return { key, column: field };
  });
  const { sql: text, params } = query.toSQL();
  const { pieces, order } = splitAtParams(text);
  if (order.some((n) => n < 0 || n >= params.length)) throw new Error('compileRead: a placeholder has no parameter');
  return {
    inline(values) {
      const filled = fillPlaceholders(params, values);
      let out = pieces[0]!;
      for (let i = 0; i < order.length; i++) out += literal(filled[order[i]!]) + pieces[i + 1]!;
      return out;
    },
    decode(row) {
      const out: Record<string, unknown> = {};
      for (let i = 0; i < fields.length; i++) {
        const value = row[i];
        out[fields[i]!.key] = value === null || value === undefined ? null : fields[i]!.column.mapFromDriverValue(value);
      }
      return out;
    },
  };
}

/**
 * A value as the quoted literal node-postgres would have sent as a parameter. Text with NUL is
 * refused: PostgreSQL text cannot hold it (as a parameter it fails too), and in a query string
 * it would end the message early.
 */
export function literal(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') text = String(value);
  else if (value instanceof Date) text = value.toISOString();
  else throw new TypeError(`Cannot inline a ${Object.prototype.toString.call(value)} into a one-message read`);
  if (text.includes('\0')) throw new AppError('bad_request', 'Text cannot contain the NUL character (\\u0000)');
  return pg.escapeLiteral(text);
}

/** The statement that puts a message under the caller's scope; `userId` must be a UUID. */
export function scopePrefix(userId: string): string {
  // The id comes from a verified credential; anything else here is a bug, never user input.
  if (!isUuid(userId)) throw new Error('A scoped read needs a user id that is a UUID');
  return (
    `select set_config('app.user_id', ${pg.escapeLiteral(userId)}, true), set_config('role', '${APP_ROLE}', true),` +
    ` set_config('transaction_read_only', 'on', true);\n`
  );
}

/** Runs a compiled read as the user, in one round trip, under row-level security. */
export async function readAsUser<TRow>(
  database: Pick<Database, 'pool'>,
  userId: string,
  read: UserRead<TRow>,
  values: Record<string, unknown> = {},
): Promise<TRow[]> {
  const text = scopePrefix(userId) + read.inline(values);
  // No values: node-postgres sends a simple Query, and answers with one result per statement.
  const results: unknown = await database.pool.query({ text, rowMode: 'array', types: TYPES });
  if (!Array.isArray(results) || results.length !== 2) throw new Error('A scoped read must be exactly one statement');
  return (results[1] as pg.QueryArrayResult).rows.map((row) => read.decode(row));
}
