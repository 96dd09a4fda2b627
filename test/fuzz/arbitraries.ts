/** fast-check arbitraries from JSON Schema: values a schema accepts, and values made to break it. */
import fc from 'fast-check';
import type { Schema } from './spec.js';

/** Hooks for what a schema cannot say: which real ids to use, values a field needs to mean something. */
export interface Hints {
  /** Real ids to offer for a uuid field named `name` (empty: random uuids only). */
  ids(name: string): string[];
  /** An arbitrary for a field named `name`, used instead of the schema's (e.g. a webhook's public URL). */
  field(name: string): fc.Arbitrary<unknown> | undefined;
  /** The largest body the server takes (MAX_FILE_SIZE): huge strings are sized around it. */
  maxBytes: number;
}

/** JSON written as it is into a body: nesting too deep for JSON.stringify's recursion. */
export class RawJson {
  constructor(readonly json: string) {}
  toJSON(): string {
    return `<raw JSON, ${this.json.length} characters>`;
  }
}

/** JSON.stringify, except that RawJson values are spliced in as written. */
export function encodeJson(value: unknown): string {
  if (value instanceof RawJson) return value.json;
  if (Array.isArray(value)) return `[${value.map(encodeJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${encodeJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

const types = (schema: Schema): string[] => {
  const type = schema.type;
  if (Array.isArray(type)) return type as string[];
  if (typeof type === 'string') return [type];
  if (schema.properties) return ['object'];
  return [];
};

const num = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);

function stringArb(schema: Schema): fc.Arbitrary<string> {
  const minLength = num(schema.minLength) ?? 0;
  const maxLength = num(schema.maxLength);
  // Valid strings stay short; long ones are the mutations' business, except right at the limit.
  const cap = Math.min(maxLength ?? 60, minLength + 60);
  const fits = (s: string) => [...s].length >= minLength && (maxLength === undefined || [...s].length <= maxLength);
  switch (schema.format) {
    case 'uuid':
      return fc.uuid();
    case 'date-time':
      return fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4e12) }).map((d) => d.toISOString());
    case 'email':
      return fc.emailAddress().filter(fits);
    default:
  }
  if (typeof schema.pattern === 'string') {
    return fc.stringMatching(new RegExp(schema.pattern, 'u')).filter(fits);
  }
  const atLimit = maxLength !== undefined && maxLength <= 4096 ? [fc.constant('é'.repeat(maxLength))] : [];
  return fc.oneof(
    { arbitrary: fc.string({ minLength, maxLength: cap, unit: 'grapheme' }).filter(fits), weight: 8 },
    { arbitrary: fc.string({ minLength: Math.max(minLength, 1), maxLength: cap, unit: 'grapheme-ascii' }).filter(fits), weight: 4 },
    ...atLimit.map((arbitrary) => ({ arbitrary, weight: 1 })),
  );
}

/** Values `schema` accepts. `name` is the property (or parameter) the value is for. */
export function validValue(schema: Schema, hints: Hints, name = ''): fc.Arbitrary<unknown> {
  const override = name ? hints.field(name) : undefined;
  if (override) return override;
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
  if ('const' in schema) return fc.constant(schema.const);
  const alternatives = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (alternatives) return fc.oneof(...alternatives.map((s) => validValue(s, hints, name)));
  const kinds = types(schema);
  if (kinds.length > 1) return fc.oneof(...kinds.map((type) => validValue({ ...schema, type }, hints, name)));
  switch (kinds[0] ?? 'any') {
    case 'string': {
      const ids = schema.format === 'uuid' ? hints.ids(name) : [];
      return ids.length > 0 ? fc.oneof({ arbitrary: fc.constantFrom(...ids), weight: 3 }, { arbitrary: fc.uuid(), weight: 1 }) : stringArb(schema);
    }
    case 'integer':
      return fc.integer({ min: num(schema.minimum) ?? -1_000_000, max: num(schema.maximum) ?? 1_000_000 });
    case 'number':
      return fc.double({ min: num(schema.minimum) ?? -1e9, max: num(schema.maximum) ?? 1e9, noNaN: true, noDefaultInfinity: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array': {
      const items = validValue((schema.items as Schema | undefined) ?? {}, hints, name);
      const minLength = num(schema.minItems) ?? 0;
      const maxLength = Math.min(num(schema.maxItems) ?? 5, minLength + 5);
      return schema.uniqueItems
        ? fc.uniqueArray(items, { minLength, maxLength, selector: (v) => JSON.stringify(v) })
        : fc.array(items, { minLength, maxLength });
    }
    case 'object': {
      const properties = (schema.properties ?? {}) as Record<string, Schema>;
      const model = Object.fromEntries(Object.entries(properties).map(([key, s]) => [key, validValue(s, hints, key)]));
      return fc.record(model, { requiredKeys: ((schema.required as string[] | undefined) ?? []).filter((k) => k in model) });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** Characters that have broken servers: NUL, C0/C1 controls, separators, bidi overrides, lone surrogates. */
export const NASTY_CHARACTERS = [
  '\u0000', '\u0001', '\u0008', '\t', '\n', '\r', '\u001b', '\u001f', '\u007f', '\u0085', '\u00a0',
  '\u2028', '\u2029', '\u202e', '\u200b', '\ufeff', '\ufffd', '\uffff', '\ud800', '\udfff', '😀', 'ä',
];

const nastyString: fc.Arbitrary<string> = fc
  .tuple(fc.string({ maxLength: 8 }), fc.subarray(NASTY_CHARACTERS, { minLength: 1, maxLength: 4 }), fc.string({ maxLength: 8 }))
  .map(([before, chars, after]) => `${before}${chars.join('')}${after}`);

/** Ids that are not ids: wrong shapes, encodings and lengths. */
export const MALFORMED_IDS = [
  'not-a-uuid', '0', '-1', 'null', 'undefined', '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff', '0195f2a4-7e5b-7c3e-9b1a-8f6e2d4c1a0', '0195f2a4-7e5b-7c3e-9b1a-8f6e2d4c1a0bb',
  '0195F2A4-7E5B-7C3E-9B1A-8F6E2D4C1A0B', '{0195f2a4-7e5b-7c3e-9b1a-8f6e2d4c1a0b}', "' or '1'='1", '%00', '%zz', '%E2%80%AE',
  'a'.repeat(120), '1'.repeat(600), '🙂', '%20',
];

/** Values of every JSON type, plus strings that parse as numbers to some and not to others. */
const anyType: fc.Arbitrary<unknown> = fc.constantFrom(
  null, true, false, 0, -1, 1.5, 1e308, -0, 2 ** 53 + 1, '', 'x', '1e309', 'NaN', 'Infinity', '0x10', [], [null], {}, { a: 1 },
);

/** A value nested `depth` levels deep, as raw JSON. */
export const deepNesting: fc.Arbitrary<RawJson> = fc
  .tuple(fc.constantFrom(64, 1_000, 20_000, 100_000), fc.boolean())
  .map(([depth, arrays]) =>
    arrays
      ? new RawJson(`${'['.repeat(depth)}${']'.repeat(depth)}`)
      : new RawJson(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
  );

/** Strings around the body limit: huge yet accepted by the parser, or just over it. */
export function hugeString(hints: Hints): fc.Arbitrary<string> {
  return fc
    .constantFrom(0.25, 0.9, 1.01)
    .map((fraction) => 'x'.repeat(Math.max(1, Math.floor(hints.maxBytes * fraction))));
}

/** Values made to break `schema`: wrong types, values just past its bounds, nasty and huge strings. */
export function brokenValue(schema: Schema, hints: Hints): fc.Arbitrary<unknown> {
  const options: fc.Arbitrary<unknown>[] = [anyType, nastyString, hugeString(hints)];
  const kinds = types(schema);
  if (kinds.includes('string')) {
    const min = num(schema.minLength);
    const max = num(schema.maxLength);
    if (max !== undefined) options.push(fc.constant('a'.repeat(max + 1)));
    if (min !== undefined && min > 0) options.push(fc.constant('a'.repeat(min - 1)));
    if (schema.format === 'uuid') options.push(fc.constantFrom(...MALFORMED_IDS));
    if (schema.format === 'date-time' || schema.format === 'email') options.push(fc.constantFrom('yesterday', '@', 'a@', '2024-13-45T99:99:99Z'));
  }
  if (kinds.includes('integer') || kinds.includes('number')) {
    const min = num(schema.minimum);
    const max = num(schema.maximum);
    if (min !== undefined) options.push(fc.constantFrom(min - 1, min - 0.5, -(2 ** 63)));
    if (max !== undefined) options.push(fc.constantFrom(max + 1, max + 0.5, 2 ** 63, 1e308));
    options.push(fc.constantFrom('12abc', ' 1', '1 ', '0b1', '1_000'));
  }
  if (kinds.includes('array')) {
    const max = num(schema.maxItems);
    options.push(fc.array(anyType, { minLength: (max ?? 4) + 1, maxLength: (max ?? 4) + 3 }));
    options.push(deepNesting);
    if (schema.uniqueItems && schema.items) options.push(validValue(schema.items as Schema, hints).map((v) => [v, v]));
  }
  if (kinds.includes('object')) options.push(deepNesting, brokenObject(schema, hints));
  return fc.oneof(...options);
}

/** A value that `schema` (an object) accepts, with one thing broken: a field, a key, or a missing one. */
export function brokenObject(schema: Schema, hints: Hints): fc.Arbitrary<unknown> {
  const properties = Object.entries((schema.properties ?? {}) as Record<string, Schema>);
  const required = (schema.required as string[] | undefined) ?? [];
  const valid = validValue(schema, hints) as fc.Arbitrary<Record<string, unknown>>;
  const strange = fc.constantFrom('__proto__', 'constructor', 'prototype', '', ' ', 'a'.repeat(1_000), '\u0000', '$where', 'toString');
  const options: fc.Arbitrary<unknown>[] = [
    fc.tuple(valid, strange, anyType).map(([v, key, value]) => ({ ...v, [key]: value })),
  ];
  if (properties.length > 0) {
    options.push(
      fc
        .constantFrom(...properties)
        .chain(([key, s]) => fc.tuple(valid, fc.constant(key), fc.oneof(brokenValue(s, hints), deepNesting)))
        .map(([v, key, value]) => ({ ...v, [key]: value })),
    );
  }
  if (required.length > 0) {
    options.push(
      fc.tuple(valid, fc.constantFrom(...required)).map(([v, key]) => Object.fromEntries(Object.entries(v).filter(([k]) => k !== key))),
    );
  }
  return fc.oneof(...options);
}
