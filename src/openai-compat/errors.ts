import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { logServerSide, toAppError } from '../http/error-handler.js';
import { AppError, ERRORS, isErrorCode, type ErrorCode } from '../http/errors.js';

/** OpenAI's error body, so unmodified OpenAI clients raise their usual exceptions. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: ErrorCode | null };
}

function typeFor(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** OpenAI answers 400 where we say 422 or 415; its SDKs pick exception classes by status. */
function openAIStatus(code: ErrorCode): number {
  const status: number = ERRORS[code].status;
  return status === 422 || status === 415 ? 400 : status;
}

function openAIError(status: number, message: string, code: ErrorCode | null, param: string | null = null): OpenAIErrorBody {
  return { error: { message, type: typeFor(status), param, code } };
}

/** `error` as OpenAI's body, with the status OpenAI would answer it with. */
export function openAIErrorOf(error: AppError): { status: number; body: OpenAIErrorBody } {
  const status = openAIStatus(error.code);
  return { status, body: openAIError(status, error.message, error.code, error.errors?.[0]?.field ?? null) };
}

/** Sends `error` in OpenAI's shape, with its headers (Retry-After, WWW-Authenticate). */
export function sendOpenAIError(reply: FastifyReply, error: AppError): FastifyReply {
  if (error.headers) void reply.headers(error.headers);
  const { status, body } = openAIErrorOf(error);
  return reply.code(status).send(body);
}

/**
 * A failed job as the error it answers with: the status its code has in the list (a job that ran
 * too long is a 504, an unreachable speech API a 502), with a Retry-After where the code suggests one.
 */
export function failedJobError(code: string | null, message: string | null): AppError {
  return new AppError(isErrorCode(code) ? code : 'internal_error', message ?? 'The transcription failed');
}

/** Replaces the problem+json handlers inside the /v1 scope: errors and unknown routes. */
export function useOpenAIErrors(scope: FastifyInstance): void {
  scope.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    const appError = toAppError(error);
    if (appError) {
      logServerSide(request, appError);
      return sendOpenAIError(reply, appError);
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendOpenAIError(reply, new AppError('internal_error', 'An unexpected error occurred'));
  });
  scope.setNotFoundHandler((request: FastifyRequest, reply) =>
    sendOpenAIError(reply, new AppError('route_not_found', `No route ${request.method} ${request.url.split('?')[0]}`)),
  );
}
