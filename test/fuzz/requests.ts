/** Requests for one operation of the document: valid ones, and ones with one part broken. */
import fc from 'fast-check';
import { brokenObject, brokenValue, deepNesting, encodeJson, hugeString, MALFORMED_IDS, NASTY_CHARACTERS, validValue, type Hints } from './arbitraries.js';
import type { Operation, Parameter, Schema } from './spec.js';
import { multipart, type ActorName, type Pool, type World } from './world.js';

export interface FuzzRequest {
  method: string;
  url: string;
  actor: ActorName | 'forged';
  headers: Record<string, string>;
  payload?: string | Buffer;
  /** What was broken, for the failure message. */
  mutation: string;
}

/** Which of A's ids a path's `{id}` names. */
const PATH_POOLS: [RegExp, Pool][] = [
  [/\/auth\/api-keys\//, 'apiKey'],
  [/\/audio\/transcription\//, 'transcription'],
  [/\/audio\//, 'recording'],
  [/\/chat\/sessions\//, 'session'],
  [/\/jobs\//, 'job'],
  [/\/webhooks\//, 'webhook'],
];

const FORGED = [
  'Bearer trb_0000000000000000000000000000000000000000',
  'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIwMTk1ZjJhNC03ZTViLTdjM2UtOWIxYS04ZjZlMmQ0YzFhMGIifQ.',
  'Bearer a.b.c',
  'Bearer',
  'Basic dXNlcjpwYXNz',
  `Bearer ${'x'.repeat(5000)}`,
];

const WRONG_CONTENT_TYPES = [
  'text/plain',
  'application/xml',
  'application/octet-stream',
  'multipart/form-data',
  'multipart/form-data; boundary=',
  'application/json; charset=utf-16',
  'application/x-www-form-urlencoded; charset=latin1',
  'application/vnd.api+json',
  '',
];

const RANGES = ['bytes=0-10', 'bytes=-5', 'bytes=5-', 'bytes=10-5', 'bytes=999999-', 'items=0-1', 'bytes=0-1,3-4', 'bytes=a-b', 'bytes=0-0'];

/** The operation-specific meaning a schema cannot carry. */
function hintsFor(op: Operation, world: World, maxBytes: number): Hints {
  const pathPool = PATH_POOLS.find(([re]) => re.test(op.path))?.[1];
  const all = Object.values(world.ids).flat();
  const chatModel = fc.constantFrom('gpt-test', 'claude-test', 'gpt-test-2', 'not-an-allowed-model');
  const fields: Record<string, fc.Arbitrary<unknown> | undefined> = {
    // A public address literal: a hostname would be resolved, and private addresses are refused.
    url: fc.constantFrom('https://203.0.113.7/hook', 'http://198.51.100.20:8080/x?y=1'),
    // Waiting longer only slows the run: the queue finishes these jobs in well under a second.
    wait: fc.constantFrom(0, 1),
    email: op.path.endsWith('/login') ? fc.constantFrom(world.owner.email, 'nobody@example.com') : undefined,
    password: op.path.endsWith('/login') ? fc.constantFrom(world.owner.password, 'wrong password') : undefined,
    refresh_token: fc.oneof(fc.constantFrom(...world.refreshTokens), fc.string({ minLength: 1, maxLength: 80 })),
    language: fc.constantFrom('en', 'es', 'en-US', 'xx', 'zz-ZZZZ'),
    model: op.path.startsWith('/v1/') ? fc.constantFrom('whisper-1', 'gpt-4o-transcribe') : op.path.includes('/chat/') || op.path.endsWith('/summary') ? chatModel : undefined,
  };
  return {
    ids: (name) => {
      if (name === 'transcription_id') return world.ids.transcription;
      if (name === 'session_id') return world.ids.session;
      if (name === 'cursor') return all;
      if (name === 'id' && pathPool) return world.ids[pathPool];
      return [];
    },
    field: (name) => fields[name],
    maxBytes,
  };
}

/** Percent-encoding that also takes lone surrogates (as U+FFFD), which encodeURIComponent refuses. */
function encode(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return [...Buffer.from(value, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
  }
}

interface Parts {
  path: Record<string, string>;
  query: [string, string][];
  headers: Record<string, string>;
  payload?: string | Buffer;
  mutation: string;
}

/** Query values as a client would write them: arrays repeat the name, objects are JSON. */
function queryPairs(name: string, value: unknown): [string, string][] {
  if (value === undefined) return [];
  if (Array.isArray(value)) return value.flatMap((v) => queryPairs(name, v));
  if (typeof value === 'string') return [[name, value]];
  // Numbers as JavaScript writes them, so that Infinity and NaN reach the server as such.
  return [[name, typeof value === 'number' || typeof value === 'boolean' ? String(value) : encodeJson(value)]];
}

function queryArb(params: Parameter[], hints: Hints): fc.Arbitrary<[string, string][]> {
  if (params.length === 0) return fc.constant([]);
  const model = Object.fromEntries(params.map((p) => [p.name, validValue(p.schema, hints, p.name)]));
  const required = params.filter((p) => p.required).map((p) => p.name);
  return fc.record(model, { requiredKeys: required }).map((values) => Object.entries(values).flatMap(([k, v]) => queryPairs(k, v)));
}

function formEncode(value: unknown): string {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return encode(encodeJson(value));
  return Object.entries(value)
    .flatMap(([k, v]) => queryPairs(k, v))
    .map(([k, v]) => `${encode(k)}=${encode(v)}`)
    .join('&');
}

const BOUNDARY = 'fuzz-boundary-7MA4YWxk';

/** A multipart form for `schema`: its text fields from `value`, and a file part of `world.audio` or worse. */
function multipartArb(schema: Schema, hints: Hints, world: World, broken: boolean): fc.Arbitrary<Buffer> {
  const textSchema = { ...schema, type: 'object', properties: Object.fromEntries(Object.entries((schema.properties ?? {}) as Record<string, Schema>).filter(([k]) => k !== 'file')) };
  const fieldsArb = broken ? fc.oneof(validValue(textSchema, hints), brokenObject(textSchema, hints)) : validValue(textSchema, hints);
  const goodFile = fc.constant({ bytes: world.audio, filename: 'tone.wav', type: 'audio/wav' });
  const badFile = fc.oneof(
    fc.uint8Array({ minLength: 0, maxLength: 2048 }).map((b) => ({ bytes: Buffer.from(b), filename: 'noise.wav', type: 'audio/wav' })),
    fc.constant({ bytes: Buffer.alloc(hints.maxBytes + 1, 1), filename: 'big.wav', type: 'audio/wav' }),
    fc.constant({ bytes: world.audio.subarray(0, 60), filename: 'cut.wav', type: 'audio/wav' }),
    fc
      .constantFrom('../../etc/passwd', `${'n'.repeat(300)}.wav`, `a${NASTY_CHARACTERS.join('')}.wav`, '', '"quoted".wav')
      .map((filename) => ({ bytes: world.audio, filename, type: 'audio/wav' })),
    fc.constant(null),
  );
  const file = broken ? fc.oneof(goodFile, badFile) : goodFile;
  return fc.tuple(fieldsArb, file).map(([fields, f]) => {
    const pairs = Object.entries((fields ?? {}) as Record<string, unknown>).flatMap(([k, v]) => queryPairs(k, v));
    return multipart(pairs, f, BOUNDARY);
  });
}

type BodyParts = Pick<Parts, 'headers' | 'payload' | 'mutation'>;

function bodyArb(op: Operation, hints: Hints, world: World, broken: boolean): fc.Arbitrary<BodyParts> {
  const media = Object.entries(op.body?.media ?? {});
  if (media.length === 0) return fc.constant({ headers: {}, mutation: '' });
  return fc.constantFrom(...media).chain(([type, schema]): fc.Arbitrary<BodyParts> => {
    if (type === 'multipart/form-data') {
      return multipartArb(schema, hints, world, broken).map((payload) => ({
        headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
        payload,
        mutation: broken ? 'multipart form' : '',
      }));
    }
    const value = broken ? fc.oneof(brokenValue(schema, hints), brokenObject(schema, hints)) : validValue(schema, hints);
    const encode = type === 'application/x-www-form-urlencoded' ? formEncode : encodeJson;
    return value.map((v) => ({ headers: { 'content-type': type }, payload: v === undefined ? '' : encode(v), mutation: broken ? `${type} body` : '' }));
  });
}

/** Bodies no route takes: wrong or missing content types, unparseable JSON, deep nesting, the limit. */
function strangeBody(hints: Hints): fc.Arbitrary<BodyParts> {
  const payload = fc.oneof(
    fc.constantFrom('', '{', '{"a":', 'null', '[]', '"text"', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}', '\u0000', '\ufeff{}'),
    deepNesting.map((raw) => raw.json),
    hugeString(hints).map((s) => `{"a":"${s}"}`),
  );
  return fc.tuple(fc.constantFrom('application/json', ...WRONG_CONTENT_TYPES), payload).map(([type, body]): BodyParts => ({
    headers: type ? { 'content-type': type } : {},
    payload: body,
    mutation: `a ${type || 'typeless'} body`,
  }));
}

function pathArb(op: Operation, hints: Hints, broken: boolean): fc.Arbitrary<Record<string, string>> {
  const params = op.parameters.filter((p) => p.in === 'path');
  const model = Object.fromEntries(
    params.map((p) => {
      const valid = validValue(p.schema, hints, p.name).map((v) => encode(String(v)));
      const bad = fc.oneof(
        fc.constantFrom(...MALFORMED_IDS),
        brokenValue(p.schema, hints).map((v) => encode(String(v)).slice(0, 2000)),
      );
      // An empty or dot segment is another URL (the list, the parent), not a bad id for this one.
      return [p.name, broken ? bad.filter((v) => !['', '.', '..'].includes(v) && !/^(%2e){1,2}$/i.test(v)) : valid];
    }),
  );
  return fc.record(model);
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

type Mutation = 'none' | 'path' | 'query' | 'body' | 'strange-body' | 'headers';

/** Requests for `op`: about a third valid, the rest with one part broken, from every kind of caller. */
export function requestsFor(op: Operation, world: World, maxBytes: number): fc.Arbitrary<FuzzRequest> {
  const hints = hintsFor(op, world, maxBytes);
  const query = op.parameters.filter((p) => p.in === 'query');
  const mutations: fc.WeightedArbitrary<Mutation>[] = [{ arbitrary: fc.constant('none'), weight: 6 }, { arbitrary: fc.constant('headers'), weight: 1 }];
  if (op.parameters.some((p) => p.in === 'path')) mutations.push({ arbitrary: fc.constant('path'), weight: 3 });
  mutations.push({ arbitrary: fc.constant('query'), weight: query.length > 0 ? 3 : 1 });
  if (op.body) mutations.push({ arbitrary: fc.constant('body'), weight: 6 });
  if (BODY_METHODS.has(op.method)) mutations.push({ arbitrary: fc.constant('strange-body'), weight: 2 });

  const actors = fc.oneof(
    { arbitrary: fc.constantFrom<ActorName>('owner', 'owner-api-key'), weight: 12 },
    { arbitrary: fc.constant<ActorName>('other'), weight: 5 },
    { arbitrary: fc.constant<ActorName>('anonymous'), weight: 1 },
    { arbitrary: fc.constant<ActorName>('forged'), weight: 1 },
  );

  return fc.tuple(fc.oneof(...mutations), actors, fc.constantFrom(...FORGED)).chain(([mutation, actor, forged]) => {
    const parts: fc.Arbitrary<Parts> = fc
      .tuple(
        pathArb(op, hints, mutation === 'path'),
        mutation === 'query' && query.length === 0
          ? fc.tuple(fc.constantFrom('x', '__proto__', 'limit', ''), brokenValue({}, hints)).map(([k, v]) => queryPairs(k, v))
          : mutation === 'query'
          ? fc.oneof(
              queryArb(query, hints).chain((pairs) =>
                fc.constantFrom(...query).chain((p) => brokenValue(p.schema, hints).map((v) => [...pairs.filter(([k]) => k !== p.name), ...queryPairs(p.name, v)])),
              ),
              queryArb(query, hints).map((pairs) => [...pairs, ...pairs]),
              queryArb(query, hints).map((pairs) => [...pairs, ['unknown', 'x'] as [string, string], ['__proto__', 'x'] as [string, string]]),
            )
          : queryArb(query, hints),
        mutation === 'strange-body' ? strangeBody(hints) : bodyArb(op, hints, world, mutation === 'body'),
        mutation === 'headers'
          ? fc.record(
              {
                accept: fc.constantFrom('text/event-stream', 'application/xml', '*/*', 'text/event-stream;q=0'),
                'last-event-id': fc.constantFrom('0', '-1', '99999999999999999999', 'abc', '1000001'),
                'x-request-id': fc.constantFrom('a'.repeat(200), 'id with spaces', '../../x'),
              },
              { requiredKeys: [] },
            )
          : fc.constant({}),
        op.responses['206'] ? fc.option(fc.constantFrom(...RANGES), { nil: undefined }) : fc.constant(undefined),
      )
      .map(([path, pairs, body, extraHeaders, range]) => ({
        path,
        query: pairs,
        headers: { ...extraHeaders, ...body.headers, ...(range ? { range } : {}) },
        payload: body.payload,
        mutation: mutation === 'none' ? 'valid' : body.mutation || mutation,
      }));
    return parts.map((p): FuzzRequest => {
      const url =
        op.path.replace(/\{(\w+)\}/g, (_m, name: string) => p.path[name] ?? '') +
        (p.query.length > 0 ? `?${p.query.map(([k, v]) => `${encode(k)}=${encode(v)}`).join('&')}` : '');
      const auth = actor === 'forged' ? { authorization: forged } : world.actors[actor];
      return { method: op.method, url, actor, headers: { ...auth, ...p.headers }, payload: p.payload, mutation: p.mutation };
    });
  });
}

/** A failure's reproduction: the request as curl would send it, bodies cut short. */
export function describeRequest(request: FuzzRequest): string {
  const headers = Object.entries(request.headers)
    .filter(([k]) => k !== 'authorization')
    .map(([k, v]) => `${k}: ${v.length > 120 ? `${v.slice(0, 120)}… (${v.length} chars)` : v}`);
  const payload = request.payload === undefined ? '' : request.payload.toString('latin1');
  const body = payload.length > 300 ? `${JSON.stringify(payload.slice(0, 300))}… (${payload.length} bytes)` : JSON.stringify(payload);
  return [`${request.method} ${request.url.length > 300 ? `${request.url.slice(0, 300)}…` : request.url}`, `as ${request.actor}; ${request.mutation}`, ...headers, ...(payload ? [`body: ${body}`] : [])].join('\n  ');
}
