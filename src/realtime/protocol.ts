/**
 * OpenAI realtime protocol plumbing: ids, client event parsing, and the `error` event with
 * OpenAI's error shape. The session decides what each event means.
 */
import { randomBytes } from 'node:crypto';

export type ServerEvent = { type: string } & Record<string, unknown>;

/** OpenAI-looking ids (`event_…`, `item_…`, `sess_…`): 22 url-safe random characters. */
export function newId(prefix: 'event' | 'item' | 'sess'): string {
  return `${prefix}_${randomBytes(16).toString('base64url').slice(0, 22)}`;
}

/**
 * Codes of `error` events on the socket: OpenAI's realtime codes, a namespace of their own (not
 * HTTP errors, so not in src/http/errors.ts); each has a row in README's realtime error table.
 */
export const REALTIME_ERROR_CODES = [
  'invalid_json',
  'invalid_event',
  'unknown_event',
  'invalid_value',
  'invalid_type',
  'missing_required_parameter',
  'input_audio_buffer_commit_empty',
  'transcription_backlog',
  'session_expired',
  'idle_timeout',
  'server_shutting_down',
  'event_failed',
] as const;
export type RealtimeErrorCode = (typeof REALTIME_ERROR_CODES)[number];

export interface RealtimeErrorDetails {
  type: 'invalid_request_error' | 'server_error';
  code: RealtimeErrorCode;
  message: string;
  param?: string | null;
  /** The client event that caused it, when it had an id. */
  event_id?: string | null;
}

/** A client's mistake; `event` (the client event at fault) gives the error its event_id. */
export function invalid(
  code: RealtimeErrorCode,
  message: string,
  extra: { param?: string; event?: { event_id?: string } | null } = {},
): RealtimeErrorDetails {
  return { type: 'invalid_request_error', code, message, param: extra.param ?? null, event_id: extra.event?.event_id ?? null };
}

/** Our side: the server cannot do what it was asked. */
export function serverError(code: RealtimeErrorCode, message: string, event?: { event_id?: string }): RealtimeErrorDetails {
  return { type: 'server_error', code, message, event_id: event?.event_id ?? null };
}

export function errorEvent(details: RealtimeErrorDetails): ServerEvent {
  return {
    type: 'error',
    error: {
      type: details.type,
      code: details.code,
      message: details.message,
      param: details.param ?? null,
      event_id: details.event_id ?? null,
    },
  };
}

export interface ClientEvent {
  type: string;
  event_id?: string;
  [key: string]: unknown;
}

/** A client message as an event, or the error event answering it. */
export function parseClientEvent(data: string): { event: ClientEvent } | { error: RealtimeErrorDetails } {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return { error: invalid('invalid_json', 'The message is not valid JSON') };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { error: invalid('invalid_event', 'An event must be a JSON object') };
  }
  const event = value as Record<string, unknown>;
  const eventId = typeof event.event_id === 'string' ? event.event_id : undefined;
  if (typeof event.type !== 'string') {
    return { error: invalid('missing_required_parameter', 'Missing event type', { param: 'type', event: { event_id: eventId } }) };
  }
  return { event: { ...event, type: event.type, ...(eventId ? { event_id: eventId } : {}) } };
}

/** Close codes (RFC 6455) this endpoint uses. */
export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  policy: 1008,
  tooBig: 1009,
  internal: 1011,
} as const;

/** How and why a session ends: its close code and reason, and the error event sent first, if any. */
export interface EndReason {
  code: number;
  reason: string;
  error?: RealtimeErrorDetails;
}

export const ending = {
  expired: (): EndReason => ({
    code: CLOSE.normal,
    reason: 'session reached its maximum length',
    error: invalid('session_expired', 'The session reached its maximum length (REALTIME_MAX_SECONDS) and is closed'),
  }),
  idle: (seconds: number): EndReason => ({
    code: CLOSE.normal,
    reason: 'idle timeout',
    error: invalid('idle_timeout', `No event for ${seconds} s: the session is closed`),
  }),
  shutdown: (): EndReason => ({
    code: CLOSE.goingAway,
    reason: 'server shutting down',
    error: serverError('server_shutting_down', 'The server is shutting down: this session is being stored and closed'),
  }),
};

export const problems = {
  binary: (): RealtimeErrorDetails =>
    invalid('invalid_event', 'Events are JSON text messages; audio goes base64 in input_audio_buffer.append'),
  unknownEvent: (event: ClientEvent): RealtimeErrorDetails =>
    invalid('unknown_event', `Unknown or unsupported event type "${event.type}" in a transcription session`, { param: 'type', event }),
  missingAudio: (event: ClientEvent): RealtimeErrorDetails =>
    invalid('missing_required_parameter', 'audio (base64) is required', { param: 'audio', event }),
  invalidSession: (error: { code: string; message: string; param: string }, event: ClientEvent): RealtimeErrorDetails =>
    invalid(error.code === 'invalid_type' ? 'invalid_type' : 'invalid_value', error.message, { param: error.param, event }),
  failed: (): RealtimeErrorDetails => serverError('event_failed', 'The event could not be handled'),
  backlog: (maxSeconds: number, event: ClientEvent): RealtimeErrorDetails =>
    serverError(
      'transcription_backlog',
      `Transcription is behind real time: more than ${maxSeconds} s of audio is waiting; new audio is dropped until it catches up`,
      event,
    ),
  commitEmpty: (seconds: number, event: ClientEvent): RealtimeErrorDetails =>
    invalid(
      'input_audio_buffer_commit_empty',
      'Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, ' +
        `but buffer only has ${Math.round(seconds * 1000)}ms of audio.`,
      { event },
    ),
};
