import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ERROR_STATUS, type ErrorCode, type FieldError } from './errors.js';
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

export function sendProblem(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  code: string,
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
 * Errors the router raises before any hook runs (a malformed URL, a path segment over the router's
 * length limit): Fastify's `frameworkErrors` option, so they leave as problem+json too.
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    void sendProblem(request, reply, ERROR_STATUS.uri_too_long, 'uri_too_long', 'A path segment is longer than any id this API uses');
  } else if (error.code === 'FST_ERR_BAD_URL') {
    void sendProblem(request, reply, ERROR_STATUS.bad_request, 'bad_request', 'The URL is malformed');
  } else {
    void sendProblem(request, reply, 500, 'internal_error', 'An unexpected error occurred');
  }
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    if (error instanceof AppError) {
      if (error.headers) void reply.headers(error.headers);
      return sendProblem(request, reply, error.status, error.code, error.message, error.errors);
    }
    if (error.validation) {
      const fields = validationErrors(error);
      return sendProblem(
        request,
        reply,
        ERROR_STATUS.validation_failed,
        'validation_failed',
        `Invalid request: ${fields.map((f) => `${f.field} ${f.message}`).join('; ')}`,
        fields,
      );
    }
    const mapped = error.code ? FASTIFY_CODES[error.code] : undefined;
    if (mapped) return sendProblem(request, reply, ERROR_STATUS[mapped], mapped, error.message);
    const status = error.statusCode ?? 500;
    if (status === 429) {
      return sendProblem(request, reply, 429, 'rate_limited', 'Too many requests; slow down and retry later');
    }
    if (status >= 400 && status < 500) {
      return sendProblem(request, reply, status, status === 404 ? 'not_found' : 'bad_request', error.message);
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendProblem(request, reply, 500, 'internal_error', 'An unexpected error occurred');
  });

  app.setNotFoundHandler((request, reply) =>
    sendProblem(request, reply, 404, 'route_not_found', `No route ${request.method} ${request.url.split('?')[0]}`),
  );
}
