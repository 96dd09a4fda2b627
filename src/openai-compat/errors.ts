import type { FastifyError, FastifyInstance } from 'fastify';
import { AppError } from '../http/errors.js';

/** OpenAI's error body, so unmodified OpenAI clients raise their usual exceptions. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

function typeFor(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

export function openAIError(status: number, message: string, code: string | null, param: string | null = null): OpenAIErrorBody {
  return { error: { message, type: typeFor(status), param, code } };
}

/** Replaces the problem+json handler inside the /v1 scope. */
export function useOpenAIErrors(scope: FastifyInstance): void {
  scope.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    if (error instanceof AppError) {
      if (error.headers) void reply.headers(error.headers);
      // OpenAI answers 400 where we say 422 or 415; its SDKs pick exception classes by status.
      const status = error.status === 422 || error.status === 415 ? 400 : error.status;
      return reply.code(status).send(openAIError(status, error.message, error.code, error.errors?.[0]?.field ?? null));
    }
    if (error.validation) {
      return reply.code(400).send(openAIError(400, error.message, 'invalid_request', null));
    }
    const status = error.statusCode ?? 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'unhandled error');
      return reply.code(500).send(openAIError(500, 'An unexpected error occurred', 'internal_error'));
    }
    const code = error.code === 'FST_REQ_FILE_TOO_LARGE' ? 'file_too_large' : status === 429 ? 'rate_limit_exceeded' : null;
    return reply.code(status).send(openAIError(status, error.message, code));
  });
}
