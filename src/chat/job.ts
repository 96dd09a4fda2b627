import type { LlmProviderName } from '../config.js';
import type { AppDatabase, Tx } from '../db/client.js';
import { newId } from '../db/ids.js';
import { withUser } from '../db/scope.js';
import type { JobQueue } from '../jobs/queue.js';
import type { JobContext, JobHandler, JobRow, JobSettlement, JobSuccess } from '../jobs/types.js';
import { PermanentJobError } from '../jobs/types.js';
import type { CompletionService } from './completion.js';
import type { DraftCompletion } from './completion-types.js';

export interface ChatCompletionPayload {
  sessionId: string;
  userMessageId: string;
  provider?: LlmProviderName;
  model?: string;
  /** The request's `redact` field; decided again when the job runs, against the server's mode then. */
  redact?: boolean;
}

/**
 * Stores a checked question and queues its answer in one transaction: a question is never left
 * without the job that answers it, nor a job without its question. Returns the job's id.
 */
export async function queueCompletion(
  db: AppDatabase,
  queue: JobQueue,
  draft: DraftCompletion,
  maxAttempts: number,
  redact?: boolean,
): Promise<string> {
  const jobId = newId();
  await withUser(db, draft.userId, async (tx) => {
    await draft.writeQuestion(tx);
    await queue.enqueue(tx, {
      id: jobId,
      userId: draft.userId,
      type: 'chat_completion',
      payloadVersion: 1,
      payload: {
        session_id: draft.sessionId,
        user_message_id: draft.userMessageId,
        provider: draft.providerName,
        model: draft.model,
        ...(redact === undefined ? {} : { redact }),
      },
      maxAttempts,
    });
  });
  queue.wake();
  return jobId;
}

/** POST /chat/completion/async: the answer is written to the session once, with the job's completion. */
export class ChatCompletionJob implements JobHandler<ChatCompletionPayload> {
  readonly type = 'chat_completion' as const;
  readonly version = 1;

  constructor(
    private readonly completion: CompletionService,
    readonly maxAttempts: number,
  ) {}

  parse(payload: Record<string, unknown>): ChatCompletionPayload {
    const { session_id, user_message_id, provider, model, redact } = payload;
    if (typeof session_id !== 'string' || typeof user_message_id !== 'string') {
      throw new PermanentJobError('The job names no chat message', 'invalid_payload');
    }
    return {
      sessionId: session_id,
      userMessageId: user_message_id,
      provider: provider === 'openai' || provider === 'anthropic' ? provider : undefined,
      model: typeof model === 'string' ? model : undefined,
      redact: typeof redact === 'boolean' ? redact : undefined,
    };
  }

  async run(context: JobContext<ChatCompletionPayload>): Promise<JobSuccess> {
    const { job, payload, signal } = context;
    const draft = await this.completion.reload(job.userId, payload.sessionId, payload.userMessageId, payload);
    if (!draft) throw new PermanentJobError('The chat session or its message was deleted', 'session_deleted');
    // Reserved when it runs, not when it was queued: a retry reserves again, and a job that no
    // longer fits today's allowance fails with llm_quota_exceeded.
    const prepared = await this.completion.reserve(draft);
    // The same call and the same record as an answer given at once, stored with the job's completion.
    const answered = await this.completion.answer(prepared, signal);
    return {
      result: { session_id: payload.sessionId, message_id: answered.messageId },
      commit: async (tx: Tx) => {
        await answered.record(tx);
      },
    };
  }

  async onSettled(_tx: Tx, _job: JobRow, _settlement: JobSettlement): Promise<void> {
    // The user's message stays in the session; a failed answer is visible on the job.
  }
}

