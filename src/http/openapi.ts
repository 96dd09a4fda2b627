import type { FastifyDynamicSwaggerOptions, SwaggerTransform } from '@fastify/swagger';
import type { FastifySchema } from 'fastify';
import { Problem, problemResponses } from './problem.js';

/*
 * The OpenAPI document is generated from the route schemas; this module adds what a route's own
 * schema cannot know: the errors every route can answer with because of the plugins and hooks it
 * runs under (rate limit, authentication, body parsing, the router), and document-wide fixes.
 */

/** Under this prefix errors leave in OpenAI's shape, never as 422 (src/openai-compat/errors.ts). */
const OPENAI_PREFIX = '/v1/';

/** Fastify parses a body for these methods, so a bad one can be refused on any of their routes. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

const RETRY_AFTER = { type: 'integer', description: 'Seconds to wait before retrying' };

/** Why each common status happens, for the routes that do not describe it themselves. */
const WHY: Record<number, string> = {
  400: 'Malformed request: a body that does not parse as its content type, an empty JSON body, or a malformed URL',
  401: 'No credential, or an invalid, expired or revoked one (WWW-Authenticate: Bearer)',
  413: 'The body is larger than MAX_FILE_SIZE',
  414: 'A path segment is longer than any id this API uses',
  415: 'The body has a content type this route does not accept',
  422: 'A parameter or body field is invalid; `errors` names each one',
  429:
    'Too many requests: the caller\'s allowance for this minute is used up (RATE_LIMIT_MAX; AUTH_RATE_LIMIT_MAX ' +
    'per address for register, log-in and refresh); Retry-After says when to try again',
  500: 'An unexpected error; report its request_id',
  503:
    'A service the request needs is unreachable for now (the job queue, or the Supabase signing keys that ' +
    'verify a Supabase token); Retry-After says when to try again',
};

type ResponseSchemas = Record<string, unknown>;

interface RouteFacts {
  methods: string[];
  url: string;
  schema: FastifySchema;
  rateLimited: boolean;
}

/** The error statuses a route can answer with, whatever its handler does. */
function commonErrorStatuses({ methods, url, schema, rateLimited }: RouteFacts): number[] {
  // Any route: a NUL in the query string is refused as invalid (src/http/nul-guard.ts).
  const invalid = url.startsWith(OPENAI_PREFIX) ? 400 : 422;
  const statuses = new Set<number>([500, invalid]);
  if (rateLimited) statuses.add(429);
  const security = (schema as { security?: Record<string, string[]>[] }).security;
  if (security?.some((s) => 'bearerAuth' in s)) {
    statuses.add(401);
    statuses.add(503);
  }
  if (schema.params || url.includes(':')) {
    // The router refuses undecodable and over-long path segments before any hook runs.
    statuses.add(400).add(414);
  }
  if (methods.some((m) => BODY_METHODS.has(m))) statuses.add(400).add(413).add(415);
  return [...statuses].sort((a, b) => a - b);
}

/** A documented error response: in the shape the route already uses for its 401, else problem+json. */
function errorResponse(status: number, shapeFrom: unknown): unknown {
  const base = shapeFrom && typeof shapeFrom === 'object' ? { ...shapeFrom } : problemResponses(status)[status];
  const described = { ...(base as Record<string, unknown>), description: WHY[status] ?? 'An error' };
  return status === 429 || status === 503 ? { ...described, headers: { 'retry-after': RETRY_AFTER } } : described;
}

/** @fastify/swagger `transform`: adds the common error responses a route does not list itself. */
export const documentCommonErrors: SwaggerTransform = ({ schema, url, route }) => {
  if (!schema || (schema as { hide?: boolean }).hide) return { schema, url };
  const config = route.config as { rateLimit?: unknown } | undefined;
  const facts: RouteFacts = {
    methods: [route.method].flat(),
    url,
    schema,
    // @fastify/rate-limit is registered with global: true; only `rateLimit: false` opts a route out.
    rateLimited: config?.rateLimit !== false,
  };
  const own = (schema.response ?? {}) as ResponseSchemas;
  const shapeFrom = url.startsWith(OPENAI_PREFIX) ? own['401'] ?? own['400'] : undefined;
  const added: ResponseSchemas = {};
  for (const status of commonErrorStatuses(facts)) {
    const mine = own[status];
    if (mine === undefined) added[status] = errorResponse(status, shapeFrom);
    // A route that lists its own 429 (a quota, a tighter limit) still answers the rate limit's.
    else if (status === 429 && typeof mine === 'object' && !(mine as { headers?: unknown }).headers) {
      added[status] = { ...mine, headers: { 'retry-after': RETRY_AFTER } };
    }
  }
  return { schema: { ...schema, response: { ...own, ...added } }, url };
};

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** JSON with sorted keys, to recognise a schema after @fastify/swagger has copied it. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    isObject(inner) ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => a.localeCompare(b))) : inner,
  );
}

/** Replaces every schema under `node` whose canonical JSON is `key` with `ref`. */
function hoist(node: unknown, key: string, ref: Json): unknown {
  if (Array.isArray(node)) return node.map((item) => hoist(item, key, ref));
  if (!isObject(node)) return node;
  if (canonical(node) === key) return ref;
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, hoist(v, key, ref)]));
}

function acceptsNull(schema: unknown): boolean {
  if (!isObject(schema)) return false;
  const type = schema.type;
  if (type === 'null' || (Array.isArray(type) && type.includes('null'))) return true;
  return Array.isArray(schema.anyOf) && schema.anyOf.some(acceptsNull);
}

/** Properties with a default are filled in when absent (ajv's useDefaults), so they are not required. */
function dropDefaultedRequired(schema: unknown): void {
  if (!isObject(schema)) return;
  if (Array.isArray(schema.anyOf)) schema.anyOf.forEach(dropDefaultedRequired);
  const properties = isObject(schema.properties) ? schema.properties : {};
  if (!Array.isArray(schema.required)) return;
  schema.required = schema.required.filter((name) => {
    const property = properties[name as string];
    return !(isObject(property) && property.default !== undefined);
  });
  if ((schema.required as unknown[]).length === 0) delete schema.required;
}

function fixOperation(operation: Json): void {
  for (const parameter of Array.isArray(operation.parameters) ? operation.parameters : []) {
    if (isObject(parameter) && parameter.in !== 'path' && isObject(parameter.schema) && parameter.schema.default !== undefined) {
      parameter.required = false;
    }
  }
  const body = operation.requestBody;
  if (isObject(body) && isObject(body.content)) {
    const media = Object.entries(body.content).map(([type, m]) => ({ type, schema: isObject(m) ? m.schema : undefined }));
    media.forEach((m) => dropDefaultedRequired(m.schema));
    // A route whose body schema admits null takes a request without one. (Multipart schemas admit
    // null only because the form is read in the handler, not by the body parser.)
    const parsed = media.filter((m) => m.type !== 'multipart/form-data');
    if (parsed.length > 0 && parsed.every((m) => acceptsNull(m.schema))) body.required = false;
  }
}

/** @fastify/swagger `transformObject`: document-wide fixes after every route has been added. */
export function finishDocument(document: { openapiObject?: unknown; swaggerObject?: unknown }): Json {
  const doc = (document.openapiObject ?? document.swaggerObject) as Json;
  for (const item of Object.values(isObject(doc.paths) ? doc.paths : {})) {
    if (!isObject(item)) continue;
    for (const operation of Object.values(item)) if (isObject(operation)) fixOperation(operation);
  }
  // One Problem schema, referenced from every error response, instead of a copy in each.
  const components = isObject(doc.components) ? doc.components : {};
  const schemas = isObject(components.schemas) ? components.schemas : {};
  const problem = JSON.parse(JSON.stringify(Problem)) as Json;
  const paths = hoist(doc.paths, canonical(problem), { $ref: '#/components/schemas/Problem' });
  return { ...doc, tags: describedTags(doc.paths), paths, components: { ...components, schemas: { ...schemas, Problem: problem } } };
}

/** The tags in use, in the order their first operation appears, with the descriptions we have. */
function describedTags(paths: unknown): { name: string; description?: string }[] {
  const names = new Set<string>();
  for (const item of Object.values(isObject(paths) ? paths : {})) {
    for (const operation of Object.values(isObject(item) ? item : {})) {
      if (isObject(operation) && Array.isArray(operation.tags)) for (const tag of operation.tags) names.add(String(tag));
    }
  }
  return [...names].map((name) => (TAG_DESCRIPTIONS[name] ? { name, description: TAG_DESCRIPTIONS[name] } : { name }));
}

const TAG_DESCRIPTIONS: Record<string, string> = {
  // Including the parts left out of this document on purpose.
  admin:
    'Only with REDIS_URL (BullMQ). The queue dashboard itself (bull-board\'s page, assets and JSON API under ' +
    '/admin/queues/) is left out of this document on purpose: it is a browser UI for admins, not an API, and it ' +
    'answers 401 without credentials and 403 to non-admins.',
};

export function swaggerOptions(info: { title: string; version: string; description: string }): FastifyDynamicSwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info,
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'An access token (JWT) or an API key (trb_…)' },
        },
      },
    },
    transform: documentCommonErrors,
    transformObject: finishDocument,
  };
}
