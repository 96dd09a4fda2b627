import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isConnectTimeout } from '../db/client.js';
import { AppError, ERROR_STATUS, errors, type ErrorCode, type FieldError } from './errors.js';
import type { Problem } from './problem.js';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** Fastify's own error codes, mapped onto ours so every error leaves in the same shape. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_body',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_body',
  // @fastify/multipart
  FST_REQ_FILE_TOO_LARGE: 'payload_too_large',
  FST_PARTS_LIMIT: 'payload_too_large',
  FST_FILES_LIMIT: 'payload_too_large',
  FST_FIELDS_LIMIT: 'payload_too_large',
  FST_PROTO_VIOLATION: 'bad_request',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'unsupported_media_type',
  FST_NO_FORM_DATA: 'bad_request',
};

/** For a 4xx that a plugin raised with a bare status: the general code for that status. */
const STATUS_CODES: Partial<Record<number, ErrorCode>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  416: 'range_not_satisfiable',
  422: 'validation_failed',
  429: 'rate_limited',
};

export function sendProblem(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  code: ErrorCode,
  detail: string,
  fieldErrors?: FieldError[],
): FastifyReply {
  const body: Problem = {
    type: `https://transcribo.dev/errors/${code}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    code,
    request_id: String(request.id),
  };
  if (fieldErrors && fieldErrors.length > 0) body.errors = fieldErrors;
  return reply.code(status).type('application/problem+json').send(body);
}

function validationErrors(error: FastifyError): FieldError[] {
  return (error.validation ?? []).map((v) => {
    const missing = (v.params as { missingProperty?: string } | undefined)?.missingProperty;
    const base = v.instancePath ? v.instancePath.slice(1).replace(/\//g, '.') : '';
    const field = [error.validationContext, base, missing].filter(Boolean).join('.');
    return { field: field || 'request', message: v.message ?? 'is invalid' };
  });
}

/**
 * Any error a handler or plugin threw, as the AppError the client sees; null for a fault of ours
 * (a 5xx nobody classified), which is logged and answered with internal_error. Both the
 * problem+json handler and the OpenAI-shaped one in /v1 classify through here.
 */
export function toAppError(error: unknown): AppError | null {
  if (error instanceof AppError) return error;
  const fastifyError = error as Partial<FastifyError> | null | undefined;
  if (fastifyError?.validation) {
    const fields = validationErrors(fastifyError as FastifyError);
    return new AppError(
      'validation_failed',
      `Invalid request: ${fields.map((f) => `${f.field} ${f.message}`).join('; ')}`,
      fields,
    );
  }
  // Overload, not a fault: the client may retry once the burst has passed.
  if (isConnectTimeout(error)) return errors.unavailable('The database has no free connection right now; retry shortly', 1);
  const message = fastifyError?.message ?? 'The request failed';
  const mapped = fastifyError?.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (mapped) return new AppError(mapped, message);
  const status = fastifyError?.statusCode ?? 500;
  if (status === 429) return new AppError('rate_limited', 'Too many requests; slow down and retry later');
  if (status >= 400 && status < 500) return new AppError(STATUS_CODES[status] ?? 'bad_request', message);
  return null;
}

/**
 * A 5xx the code did classify (storage or a provider unavailable) is still trouble an operator
 * should see: logged with its cause (paths, hosts) that the client is not told.
 */
export function logServerSide(request: FastifyRequest, error: AppError): void {
  if (error.status >= 500) request.log.warn({ err: error, code: error.code }, `answered ${error.status} ${error.code}`);
}

/**
 * Errors the router raises before any hook runs (a malformed URL, a path segment over the router's
 * length limit): Fastify's `frameworkErrors` option, so they leave as problem+json too.
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    void sendProblem(request, reply, ERROR_STATUS.uri_too_long, 'uri_too_long', 'A path segment is longer than any id this API uses');
  } else if (error.code === 'FST_ERR_BAD_URL') {
    void sendProblem(request, reply, ERROR_STATUS.bad_request, 'bad_request', 'The URL is malformed');
  } else {
    void sendProblem(request, reply, ERROR_STATUS.internal_error, 'internal_error', 'An unexpected error occurred');
  }
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    const appError = toAppError(error);
    if (!appError) {
      request.log.error({ err: error }, 'unhandled error');
      return sendProblem(request, reply, ERROR_STATUS.internal_error, 'internal_error', 'An unexpected error occurred');
    }
    logServerSide(request, appError);
    if (appError.headers) void reply.headers(appError.headers);
    return sendProblem(request, reply, appError.status, appError.code, appError.message, appError.errors);
  });

  app.setNotFoundHandler((request, reply) =>
    sendProblem(request, reply, ERROR_STATUS.route_not_found, 'route_not_found', `No route ${request.method} ${request.url.split('?')[0]}`),
  );
}
