import type { FastifyReply, FastifyRequest } from 'fastify';
import { abortOnDisconnect, heldOpen, openEventStream } from '../http/sse.js';
import { AppError } from '../http/errors.js';
import type { JobEventHub } from '../jobs/events.js';
import type { JobService } from '../jobs/service.js';
import type { TranscriptionService } from '../transcription/service.js';
import type { TranscriptionView } from '../transcription/view.js';
import { failedJobError, openAIErrorOf } from './errors.js';

export interface TranscriptionStreamDeps {
  jobs: JobService;
  events: JobEventHub;
  transcriptions: TranscriptionService;
}

const FINAL = new Set(['completed', 'failed', 'cancelled']);
/** How often the job row is read, for jobs whose events never reach this process. */
const POLL_MS = 1_000;

/** OpenAI's `transcript.text.delta`. */
interface DeltaEvent {
  type: 'transcript.text.delta';
  delta: string;
}

/** OpenAI's `transcript.text.done`, with the usage its duration-billed models report. */
interface DoneEvent {
  type: 'transcript.text.done';
  text: string;
  usage: { type: 'duration'; seconds: number };
}

/**
 * Answers a queued transcription with OpenAI's streaming events: a `transcript.text.delta` per
 * segment as the engine produces it (through the job's live events, from whichever process runs
 * it), then `transcript.text.done` with the stored text. Deltas always add up to that text: what
 * the live events missed (a worker whose events do not reach this process) comes as one last
 * delta. Frames carry only `data:` lines, as OpenAI's do; a failure is an `event: error` frame
 * whose data is OpenAI's `{error: {…}}` body, which its SDKs raise as an APIError.
 *
 * A client that goes away cancels the job, as the unstreamed request does. A server that shuts
 * down ends the stream with a service_unavailable error and leaves the job to finish: its result
 * is kept and can be read from /api/v1.
 */
export async function streamTranscription(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: TranscriptionStreamDeps,
  userId: string,
  queued: TranscriptionView,
): Promise<FastifyReply> {
  const jobId = queued.job_id;
  if (!jobId) throw new AppError('internal_error', 'The transcription was queued without a job');
  const { closing } = request.server.eventStreams;
  const disconnected = abortOnDisconnect(reply);
  disconnected.addEventListener('abort', () => void deps.jobs.cancel(userId, jobId).catch(() => undefined), { once: true });

  openEventStream(reply);
  // Once the stream has said its last (done, an error, or shutdown), nothing more is written.
  let ended = false;
  let close!: () => void;
  const closed = new Promise<void>((resolve) => {
    close = () => {
      ended = true;
      resolve();
    };
  });
  const write = (data: DeltaEvent | DoneEvent | object, event?: string) => {
    if (!ended && !reply.raw.writableEnded) reply.raw.write(`${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`);
  };
  const writeError = (error: unknown) => {
    if (!(error instanceof AppError)) request.log.error({ err: error }, 'transcription stream failed');
    const appError = error instanceof AppError ? error : new AppError('internal_error', 'An unexpected error occurred');
    write(openAIErrorOf(appError).body, 'error');
  };

  let emitted = '';
  const delta = (piece: string) => {
    if (piece === '') return;
    emitted += piece;
    write({ type: 'transcript.text.delta', delta: piece } satisfies DeltaEvent);
  };
  // The stored text joins the segments' trimmed texts with a space, leaving out empty ones.
  const segment = (text: unknown) => {
    if (typeof text === 'string' && text.trim() !== '') delta(emitted === '' ? text.trim() : ` ${text.trim()}`);
  };

  let finishing = null as Promise<void> | null;
  const finish = () =>
    (finishing ??= deps.transcriptions
      .get(userId, queued.id)
      .then((view) => {
        if (!FINAL.has(view.status)) {
          // The job settled but its transcription row says otherwise (a retry): keep listening.
          finishing = null;
          return;
        }
        if (view.status === 'completed') {
          const text = view.text ?? '';
          // Segments the live events did not bring, so the deltas add up to the text.
          if (text.startsWith(emitted)) delta(text.slice(emitted.length));
          const seconds = Math.round((view.duration_seconds ?? 0) * 1000) / 1000;
          write({ type: 'transcript.text.done', text, usage: { type: 'duration', seconds } } satisfies DoneEvent);
        } else if (view.status === 'failed') {
          writeError(failedJobError(view.error_code, view.error));
        } else {
          writeError(new AppError('conflict', 'The transcription was cancelled'));
        }
        close();
      })
      .catch((error: unknown) => {
        writeError(error);
        close();
      }));

  const onClosing = () => {
    writeError(closing.reason);
    close();
  };
  await heldOpen(request, async () => {
    const live = deps.events.subscribe(jobId, null, (event) => {
      if (FINAL.has(event.event)) void finish();
      else if (event.event === 'segment' && !finishing) segment(event.data.text);
    });
    for (const event of live.replay) {
      if (event.event === 'segment') segment(event.data.text);
    }
    if (live.replay.some((event) => FINAL.has(event.event))) void finish();
    let polled: Promise<unknown> = Promise.resolve();
    const poll = setInterval(() => {
      polled = deps.jobs
        .get(userId, jobId)
        .then((job) => (FINAL.has(job.status) ? finish() : undefined))
        .catch(() => undefined);
    }, POLL_MS);
    disconnected.addEventListener('abort', () => close(), { once: true });
    if (closing.aborted) onClosing();
    else closing.addEventListener('abort', onClosing, { once: true });
    try {
      await closed;
    } finally {
      clearInterval(poll);
      live.unsubscribe();
      closing.removeEventListener('abort', onClosing);
      // Nothing this stream started may outlive the app's close (and its database).
      await polled;
      if (finishing) await finishing;
      if (!reply.raw.writableEnded) {
        // The headers promised keep-alive: on shutdown the idle connection would hold the server.
        const socket = reply.raw.socket;
        reply.raw.end(() => {
          if (closing.aborted) socket?.end();
        });
      }
    }
  });
  return reply;
}
