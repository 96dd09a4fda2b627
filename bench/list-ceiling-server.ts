/**
 * The hand-written ceilings of bench/list-ceiling.ts: Fastify + pg + jose doing what Transcribo's
 * GET /api/v1/audio/?limit=20 does per request and nothing else (verify the JWT, set the RLS user and
 * role, select 21 rows, answer 20 and a cursor). "4rt": begin, set_config, select, commit, four round
 * trips. "1rt": the scope and the select as one simple-query message, one round trip.
 *
 *   DATABASE_URL=… SECRET_KEY=… tsx bench/list-ceiling-server.ts <4rt|1rt> <port>
 */
import Fastify from 'fastify';
import { jwtVerify } from 'jose';
import pg from 'pg';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const COLUMNS = `"id", "user_id", "title", "language", "source", "kind", "original_text", "blob_key", "mime_type",
  "size_bytes", "duration_seconds", "sha256", "created_at", "updated_at"`;
// No WHERE on the owner, as in Transcribo: only RLS limits the rows to the caller's.
const SELECT = `select ${COLUMNS} from "recordings" order by "recordings"."id" desc limit`;

type Text = string | null;
interface Row {
  id: string; title: string; language: Text; source: string; kind: string; original_text: Text; mime_type: Text;
  size_bytes: string; duration_seconds: number | null; sha256: string; created_at: Date; updated_at: Date;
}

const nullable = (type: string) => ({ type: [type, 'null'] });
const PAGE_SCHEMA = {
  type: 'object',
  properties: {
    items: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string' }, title: { type: 'string' }, language: nullable('string'), source: { type: 'string' },
          kind: { type: 'string' }, original_text: nullable('string'), mime_type: nullable('string'),
          size_bytes: { type: 'integer' }, duration_seconds: nullable('number'), sha256: { type: 'string' },
          created_at: { type: 'string' }, updated_at: { type: 'string' },
        },
      },
    },
    next_cursor: nullable('string'),
  },
};

function view(row: Row) {
  return {
    id: row.id, title: row.title, language: row.language, source: row.source, kind: row.kind,
    original_text: row.original_text, mime_type: row.mime_type, size_bytes: Number(row.size_bytes),
    duration_seconds: row.duration_seconds, sha256: row.sha256,
    created_at: row.created_at.toISOString(), updated_at: row.updated_at.toISOString(),
  };
}

async function serveCeiling(variant: string, port: number): Promise<void> {
  if (variant !== '4rt' && variant !== '1rt') throw new Error(`unknown variant ${variant}`);
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.DATABASE_POOL_SIZE ?? 10) });
  // Imported once, as Transcribo does (src/auth/access-tokens.ts): the ceiling is the best hand-written version.
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(process.env.SECRET_KEY), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  const app = Fastify({ logger: false });
  app.get('/health', async () => ({ ok: true }));
  app.get<{ Querystring: { limit: number } }>(
    '/api/v1/audio/',
    {
      schema: {
        querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 } } },
        response: { 200: PAGE_SCHEMA },
      },
    },
    async (request, reply) => {
      const token = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1];
      if (!token) return reply.code(401).send();
      const { payload } = await jwtVerify(token, key, {
        algorithms: ['HS256'], issuer: 'transcribo', audience: 'transcribo', requiredClaims: ['sub', 'exp'],
      });
      const userId = payload.sub!;
      const limit = request.query.limit;
      let rows: Row[];
      if (variant === '4rt') {
        const client = await pool.connect();
        try {
          await client.query('begin');
          await client.query(`select set_config('app.user_id', $1, true), set_config('role', 'transcribo_app', true)`, [userId]);
          rows = (await client.query<Row>(`${SELECT} $1`, [limit + 1])).rows;
          await client.query('commit');
        } catch (error) {
          await client.query('rollback');
          throw error;
        } finally {
          client.release();
        }
      } else {
        if (!UUID.test(userId)) return reply.code(401).send();
        const text = `select set_config('app.user_id', ${pg.escapeLiteral(userId)}, true), set_config('role', 'transcribo_app', true);
          ${SELECT} ${limit + 1}`;
        // Several statements without parameters: one Query message, one implicit transaction.
        const results = (await pool.query(text)) as unknown as pg.QueryResult<Row>[];
        rows = results[1]!.rows;
      }
      const more = rows.length > limit;
      const page = more ? rows.slice(0, limit) : rows;
      return { items: page.map(view), next_cursor: more ? page[page.length - 1]!.id : null };
    },
  );
  await app.listen({ host: '127.0.0.1', port });
  process.once('SIGTERM', () => void app.close().then(() => pool.end()).then(() => process.exit(0)));
}

await serveCeiling(process.argv[2] ?? '', Number(process.argv[3]));
