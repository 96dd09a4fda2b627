/**
 * GET /v1/realtime: a WebSocket speaking OpenAI's realtime transcription protocol. The caller is
 * authenticated and given a session slot on the HTTP request, before the upgrade, so a refusal is
 * an ordinary 401 or 429 in OpenAI's error shape, never an accepted socket.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import websocket from '@fastify/websocket';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RealtimeConfig, SttConfig } from '../config.js';
import { logServerSide, toAppError } from '../http/error-handler.js';
import { AppError } from '../http/errors.js';
import { sendOpenAIError } from '../openai-compat/errors.js';
import { chooseModel } from '../openai-compat/models.js';
import { JOB_TEMP, ownedPrefix } from '../process/leftovers.js';
import type { RealtimeMetrics } from '../metrics/metrics.js';
import type { EngineSet } from '../transcription/engines/index.js';
import { authenticateRealtime, REALTIME_PROTOCOL, type RealtimeAuthDeps, type RealtimeCaller } from './auth.js';
import { CLOSE, ending } from './protocol.js';
import { RecordingFile } from './recording-file.js';
import { RealtimeSession, type SessionSummary } from './session.js';
import { newId } from '../db/ids.js';
import { applyUpdate, defaultSettings, InvalidSession, type SessionSettings } from './session-config.js';
import type { SessionSlots } from './session-slots.js';
import { messageBytes, type RealtimeSocket } from './socket.js';
import type { StoreSessionInput } from './store-session.js';

export interface RealtimeRoutesOptions {
  authDeps: RealtimeAuthDeps;
  slots: SessionSlots;
  engines: EngineSet;
  stt: SttConfig;
  limits: RealtimeConfig;
  /** How long a shutdown waits for sessions to finish their turns and be stored. */
  drainMs: number;
  store: (input: StoreSessionInput) => Promise<{ recordingId: string }>;
  metrics?: RealtimeMetrics;
}

interface Admitted {
  caller: RealtimeCaller;
  release: () => Promise<void>;
}

const admitted = new WeakMap<FastifyRequest, Admitted>();
const refusals = new WeakMap<FastifyRequest, AppError>();

/** The query string: OpenAI's `intent` and `model` (the SDK always sends one), and ours, `store`. */
function queryOf(request: FastifyRequest): { intent?: string; model?: string; store?: string } {
  const query: { intent?: string; model?: string; store?: string } | undefined = request.query ?? undefined;
  return query ?? {};
}

function initialSettings(request: FastifyRequest, caller: RealtimeCaller, stt: SttConfig): SessionSettings {
  const query = queryOf(request);
  let settings = defaultSettings(stt, query.store !== 'false' && query.store !== '0');
  // A transcription model in the URL is taken as the session's; a conversation model (what the SDK
  // requires to open any socket, e.g. gpt-realtime) means nothing here and is ignored.
  const choice = query.model ? chooseModel(query.model, stt) : null;
  if (query.model && choice) settings = { ...settings, model: query.model, choice };
  // A client secret's session options come last: whoever minted it fixed them.
  if (caller.session) settings = applyUpdate(settings, { type: 'transcription', ...caller.session }, stt, false);
  return settings;
}

export async function realtimeRoutes(scope: FastifyInstance, options: RealtimeRoutesOptions): Promise<void> {
  const { limits, stt } = options;
  const live = new Set<RealtimeSession>();

  await scope.register(websocket, {
    options: {
      maxPayload: limits.maxMessageBytes,
      // Echo `realtime` when offered; never the subprotocol that carries a credential.
      handleProtocols: (offered: Set<string>) => (offered.has(REALTIME_PROTOCOL) ? REALTIME_PROTOCOL : false),
    },
    // Shutdown: every session finishes its last turn and is stored, then closes with 1001.
    preClose: function drain(done: (error?: Error) => void) {
      drainSessions(live, options.drainMs).then(() => done(), done);
    },
  });

  scope.setErrorHandler((error, request, reply) => {
    const appError = toAppError(error) ?? new AppError('internal_error', 'An unexpected error occurred');
    logServerSide(request, appError);
    return sendOpenAIError(reply, appError);
  });

  // Scope-level, so it runs before the rate limiter's route-level hook: a verified caller is counted as
  // its user. The refusal itself waits until preHandler, after the request has been counted.
  scope.addHook('onRequest', async (request) => {
    try {
      const caller = await authenticateRealtime(request, options.authDeps);
      // Only the rate limiter reads it on this route (its bucket is the user).
      request.auth = { userId: caller.userId, method: 'jwt' };
      admitted.set(request, { caller, release: async () => undefined });
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      refusals.set(request, error);
    }
  });

  scope.get(
    '/realtime',
    {
      websocket: true,
      preHandler: async (request) => {
        const refusal = refusals.get(request);
        const entry = admitted.get(request);
        if (refusal || !entry) throw refusal ?? new AppError('unauthorized', 'A credential is required');
        const { intent } = queryOf(request);
        if (intent !== undefined && intent !== 'transcription') {
          throw new AppError('validation_failed', 'Only transcription sessions are served here: use intent=transcription', [
            { field: 'intent', message: 'must be "transcription"' },
          ]);
        }
        try {
          initialSettings(request, entry.caller, stt);
        } catch (error) {
          if (!(error instanceof InvalidSession)) throw error;
          throw new AppError('validation_failed', error.message, [{ field: error.param, message: error.message }]);
        }
        const release = await options.slots.acquire(entry.caller.userId);
        if (!release) {
          throw new AppError(
            'too_many_sessions',
            `At most ${limits.maxSessionsPerUser} live sessions per user (REALTIME_MAX_SESSIONS_PER_USER); close one first`,
          );
        }
        entry.release = release;
        // A handshake that fails after this point never reaches the handler: the slot goes with the connection.
        request.raw.socket.once('close', () => void release());
      },
    },
    // `ws` has no types here: the socket is declared as the part of it a session uses.
    async (socket: RealtimeSocket, request) => {
      const entry = admitted.get(request)!;
      await serveSession(socket, request, entry, options, live);
    },
  );
}

async function serveSession(
  socket: RealtimeSocket,
  request: FastifyRequest,
  entry: Admitted,
  options: RealtimeRoutesOptions,
  live: Set<RealtimeSession>,
): Promise<void> {
  // Messages can arrive while the session is set up below; `ws` drops those nobody listens for.
  const early: [Buffer, boolean][] = [];
  const hold = (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => void early.push([messageBytes(data), isBinary]);
  socket.on('message', hold);
  const { userId } = entry.caller;
  const startedAt = new Date();
  const recordingId = newId();
  const dir = await mkdtemp(path.join(tmpdir(), ownedPrefix(JOB_TEMP)));
  let recording: RecordingFile | null = null;
  try {
    recording = await RecordingFile.create(path.join(dir, 'session.wav'));
    const file = recording;
    const session = new RealtimeSession({
      socket,
      settings: initialSettings(request, entry.caller, options.stt),
      stt: options.stt,
      limits: options.limits,
      engines: options.engines,
      recording: file,
      recordingId,
      dir,
      log: request.log,
      finish: (summary) => finishSession(summary, file, { userId, startedAt, recordingId }, options, request),
      onTurn: (engine) => options.metrics?.realtimeTurn(engine),
    });
    live.add(session);
    socket.on('error', (error) => request.log.warn({ err: error }, 'realtime socket error'));
    socket.on('close', () => void entry.release());
    options.metrics?.realtimeSessions(1);
    try {
      socket.off('message', hold);
      session.start(early);
      await session.ended;
    } finally {
      live.delete(session);
      options.metrics?.realtimeSessions(-1);
    }
  } catch (error) {
    request.log.error({ err: error }, 'realtime session failed');
    await recording?.discard();
    socket.close(CLOSE.internal, 'internal error');
  } finally {
    await entry.release();
    await rm(dir, { recursive: true, force: true });
  }
}

async function finishSession(
  summary: SessionSummary,
  file: RecordingFile,
  { userId, startedAt, recordingId }: { userId: string; startedAt: Date; recordingId: string },
  options: RealtimeRoutesOptions,
  request: FastifyRequest,
): Promise<void> {
  if (!summary.settings.store || summary.seconds === 0) {
    await file.discard();
    return;
  }
  try {
    await file.finish();
    const stored = await options.store({
      userId,
      recordingId,
      wavPath: file.path,
      durationSeconds: summary.seconds,
      language: summary.language,
      engine: summary.settings.choice.engine,
      model: summary.model,
      turns: summary.turns,
      startedAt,
    });
    const { turns, seconds } = summary;
    request.log.info({ recording_id: stored.recordingId, turns: turns.length, seconds }, 'realtime session stored');
  } catch (error) {
    request.log.error({ err: error }, 'could not store a realtime session');
  }
}

async function drainSessions(live: Set<RealtimeSession>, drainMs: number): Promise<void> {
  const sessions = [...live];
  if (sessions.length === 0) return;
  const ends = sessions.map((session) => session.end(ending.shutdown()));
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), drainMs)));
  const outcome = await Promise.race([Promise.allSettled(ends), late]);
  clearTimeout(timer);
  if (outcome === 'late') for (const session of sessions) session.abort();
}
