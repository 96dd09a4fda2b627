import { sql } from 'drizzle-orm';
import type { LlmProviderName } from '../config.js';
import type { Tx } from '../db/client.js';
import type { JobContext, JobHandler, JobRow, JobSettlement, JobSuccess } from '../jobs/types.js';
import { PermanentJobError } from '../jobs/types.js';
import type { CompletionService } from './completion.js';

export interface ChatCompletionPayload {
  sessionId: string;
  userMessageId: string;
  provider?: LlmProviderName;
  model?: string;
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
    const { session_id, user_message_id, provider, model } = payload;
    if (typeof session_id !== 'string' || typeof user_message_id !== 'string') {
      throw new PermanentJobError('The job names no chat message', 'invalid_payload');
    }
    return {
      sessionId: session_id,
      userMessageId: user_message_id,
      provider: provider === 'openai' || provider === 'anthropic' ? provider : undefined,
      model: typeof model === 'string' ? model : undefined,
    };
  }

  async run(context: JobContext<ChatCompletionPayload>): Promise<JobSuccess> {
    const { job, payload, signal } = context;
    const draft = await this.completion.reload(job.userId, payload.sessionId, payload.userMessageId, payload);
    if (!draft) throw new PermanentJobError('The chat session or its message was deleted', 'session_deleted');
    // Reserved when it runs, not when it was queued: a retry reserves again, and a job that no
    // longer fits today's allowance fails with llm_quota_exceeded.
    const prepared = await this.completion.reserve(draft);
    const started = performance.now();
    const answer = await this.completion.ask(prepared, signal);
    const latency = performance.now() - started;
    return {
      result: { session_id: payload.sessionId },
      commit: async (tx: Tx) => {
        const outcome = await this.completion.record(prepared, answer.content, answer.usage, answer.model, latency, tx);
        // The job row was marked completed just before, in this transaction; add the message it produced.
        await tx.execute(
          sql`update jobs set result = result || ${JSON.stringify({ message_id: outcome.message_id })}::jsonb where id = ${job.id}`,
        );
      },
    };
  }

  async onSettled(_tx: Tx, _job: JobRow, _settlement: JobSettlement): Promise<void> {
    // The user's message stays in the session; a failed answer is visible on the job.
  }
}

