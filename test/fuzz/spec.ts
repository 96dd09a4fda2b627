/** The operations of an OpenAPI 3.1 document, and checks of a response against what it documents. */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsPlugin from 'ajv-formats';

export type Schema = Record<string, unknown>;

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required: boolean;
  schema: Schema;
}

export interface Operation {
  /** `GET /api/v1/audio/{id}`: how tests, failures and known issues name it. */
  key: string;
  method: string;
  path: string;
  parameters: Parameter[];
  /** Media type → schema of the request body, when the operation takes one. */
  body: { required: boolean; media: Record<string, Schema> } | null;
  responses: Record<string, { content?: Record<string, { schema?: Schema }> }>;
  secured: boolean;
}

export interface Document {
  paths: Record<string, Record<string, Schema>>;
  components?: { schemas?: Record<string, Schema> };
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/** Replaces `#/components/schemas/…` references with the schemas themselves (ours are not recursive). */
export function deref(node: unknown, doc: Document): unknown {
  if (Array.isArray(node)) return node.map((item) => deref(item, doc));
  if (!node || typeof node !== 'object') return node;
  const ref = (node as { $ref?: unknown }).$ref;
  if (typeof ref === 'string') {
    const name = /^#\/components\/schemas\/(.+)$/.exec(ref)?.[1];
    const target = name ? doc.components?.schemas?.[name] : undefined;
    if (!target) throw new Error(`unresolvable $ref ${ref}`);
    return deref(target, doc);
  }
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, deref(v, doc)]));
}

export function operationsOf(doc: Document): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const resolved = deref(op, doc) as {
        parameters?: Parameter[];
        requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
        responses: Operation['responses'];
        security?: unknown[];
      };
      out.push({
        key: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path,
        parameters: (resolved.parameters ?? []).map((p) => ({ ...p, required: p.required === true })),
        body: resolved.requestBody
          ? {
              required: resolved.requestBody.required !== false,
              media: Object.fromEntries(Object.entries(resolved.requestBody.content).map(([t, m]) => [t, m.schema])),
            }
          : null,
        responses: resolved.responses,
        secured: (resolved.security ?? []).length > 0,
      });
    }
  }
  return out;
}

/** `type/subtype` without parameters, lower-cased. */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/** The documented media type (exact, `type/*` or `*\/*`) that covers `actual`, or null. */
export function matchMedia(documented: string[], actual: string): string | null {
  const [type] = actual.split('/');
  return (
    documented.find((d) => d.toLowerCase() === actual) ??
    documented.find((d) => d.toLowerCase() === `${type}/*`) ??
    documented.find((d) => d === '*/*') ??
    null
  );
}

const isJson = (media: string) => media === 'application/json' || media.endsWith('+json');

export interface ResponseLike {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
}

/**
 * Why `response` breaks the contract of `op` (undocumented status or content type, a body that
 * does not match its schema, a malformed event stream), or null when it keeps it.
 */
export class ResponseChecker {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor() {
    // ajv-formats is CommonJS; depending on the loader its function is the module or its default.
    const plugin = addFormatsPlugin as unknown as { default?: typeof addFormatsPlugin } & typeof addFormatsPlugin;
    (plugin.default ?? plugin)(this.ajv);
    this.ajv.addFormat('binary', true);
  }

  problem(op: Operation, response: ResponseLike): string | null {
    const status = String(response.statusCode);
    const documented = op.responses[status] ?? op.responses[`${status[0]}XX`] ?? op.responses.default;
    if (!documented) return `status ${status} is not documented (documented: ${Object.keys(op.responses).join(', ')})`;
    const contentType = response.headers['content-type'] as string | undefined;
    const content = documented.content ?? {};
    if (!contentType) {
      return response.body === '' ? null : `a ${response.body.length}-byte body without a content type`;
    }
    const actual = mediaType(contentType);
    const key = matchMedia(Object.keys(content), actual);
    if (!key) return `content type ${actual} is not documented for ${status} (documented: ${Object.keys(content).join(', ') || 'none'})`;
    if (actual === 'text/event-stream') return eventStreamProblem(response.body);
    const schema = content[key]?.schema;
    if (!schema || !isJson(actual)) return null;
    let value: unknown;
    try {
      value = JSON.parse(response.body);
    } catch {
      return `the ${actual} body is not JSON: ${response.body.slice(0, 200)}`;
    }
    const validate = this.validatorFor(`${op.key} ${status} ${key}`, schema);
    if (validate(value)) return null;
    return `the body does not match the ${status} ${key} schema: ${this.ajv.errorsText(validate.errors)}`;
  }

  private validatorFor(id: string, schema: Schema): ValidateFunction {
    let validate = this.compiled.get(id);
    if (!validate) {
      validate = this.ajv.compile(schema);
      this.compiled.set(id, validate);
    }
    return validate;
  }
}

/** An event stream must be whole events (`event:`/`data:`/`id:` lines), each `data` JSON. */
function eventStreamProblem(body: string): string | null {
  for (const block of body.split('\n\n').filter((b) => b.trim() !== '')) {
    for (const line of block.split('\n')) {
      const field = /^(event|data|id|retry|):/.exec(line)?.[1];
      if (field === undefined) return `not an event-stream line: ${JSON.stringify(line.slice(0, 200))}`;
      if (field === 'data') {
        try {
          JSON.parse(line.slice(5));
        } catch {
          return `an event whose data is not JSON: ${JSON.stringify(line.slice(0, 200))}`;
        }
      }
    }
  }
  return null;
}
