import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { userIdOf } from '../http/auth-plugin.js';
import { problemResponses } from '../http/problem.js';
import type { JobQueue } from '../jobs/queue.js';
import type { AppDatabase } from '../db/client.js';
import type { CompletionService } from './completion.js';
import { queueCompletion } from './job.js';
import { AskBody, AsyncCompletionResponse, CompletionBody, CompletionResponse, LIMITS_DOC } from './completion-schemas.js';
import { abortOnDisconnect, respondWithEventStream, wantsEventStream } from '../http/sse.js';

const tags = ['chat'];

export interface CompletionRoutesOptions {
  completion: CompletionService;
  queue: JobQueue;
  db: AppDatabase;
  maxAttempts: number;
}

const STREAM_DOC =
  'With `stream: true` or `Accept: text/event-stream` the answer arrives as server-sent events: ' +
  '`delta` events `{text}` as tokens come, then one `done` event with the full response body below ' +
  '(content, citations, usage, …), or an `error` event `{code, status, message}`. Closing the ' +
  'connection aborts the request to the model.';

/** The seed's /api/v1/chat/completion routes; mounted under /api/v1/chat inside an authenticated scope. */
export const completionRoutes: FastifyPluginAsyncTypebox<CompletionRoutesOptions> = async (app, options) => {
  const { completion } = options;

  app.post(
    '/completion',
    {
      schema: {
        tags,
        summary: 'Ask the LLM, grounded in a transcript, with timestamp citations',
        description:
          'Answers from the transcript (whole when it fits the context budget, else the passages that match the ' +
          'question), citing segments with their times. Stored in a session: a new one unless `session_id` is given. ' +
          'With `scope: "all"` and no transcript, it answers from the passages of all your transcripts that best match ' +
          'the question, citing them with their `recording_id`. ' +
          STREAM_DOC +
          LIMITS_DOC,
        body: AskBody,
        response: {
          200: {
            description: 'The answer (JSON), or an event stream when asked for',
            content: {
              'application/json': { schema: CompletionResponse },
              'text/event-stream': { schema: Type.String({ description: '`delta`, then `done` or `error` events, as described above' }) },
            },
          },
          ...problemResponses(401, 404, 409, 413, 422, 429, 502, 503, 504),
        },
      },
    },
    async (request, reply) => {
      const userId = userIdOf(request);
      const prepared = await completion.prepare(userId, request.body);
      if (!wantsEventStream(request, request.body.stream)) {
        return reply.send(await completion.complete(prepared, abortOnDisconnect(reply)));
      }
      return respondWithEventStream(request, reply, async ({ signal, send }) => {
        for await (const event of completion.stream(prepared, signal)) {
          if (event.type === 'delta') send('delta', { text: event.text });
          else send('done', event.result);
        }
      });
    },
  );

  app.post(
    '/completion/async',
    {
      schema: {
        tags,
        summary: 'Ask the LLM in the background',
        description:
          '202 with a job id; the answer appears on GET /api/v1/jobs/{id} (result.message_id) and in the session. ' +
          'The prompt and the day\'s allowance are checked now; the job reserves its tokens when it runs, and fails ' +
          'with `llm_quota_exceeded` when they no longer fit.',
        body: CompletionBody,
        response: { 202: AsyncCompletionResponse, ...problemResponses(401, 404, 409, 413, 422, 429, 503) },
      },
    },
    async (request, reply) => {
      const userId = userIdOf(request);
      options.queue.assertAvailable();
      // Checked now (404, 413, 429 at once); the job reserves its tokens when it runs.
      // Not in this body's schema, so never read: a job rebuilds its prompt from the session alone.
      const draft = await completion.draft(userId, { ...request.body, scope: undefined });
      const jobId = await queueCompletion(options.db, options.queue, draft, options.maxAttempts, request.body.redact);
      return reply.code(202).send({ job_id: jobId, session_id: draft.sessionId, message_id: draft.userMessageId });
    },
  );
};
