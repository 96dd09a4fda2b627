import { Type } from 'typebox';
import { Nullable } from '../http/schemas.js';
import { Citation, REDACT_DOC, Redactions } from './schemas.js';

/** How every answer is bounded; for the descriptions of the routes that ask the model. */
export const LIMITS_DOC =
  ' The prompt (instructions, transcript, earlier turns, question) stays within LLM_CONTEXT_TOKENS: earlier turns ' +
  'are dropped oldest first, and a message that does not fit with the instructions is 413 `llm_context_exceeded`. ' +
  'Each call reserves its prompt and longest answer against LLM_DAILY_TOKEN_LIMIT before it is made: ' +
  '429 `llm_quota_exceeded` (Retry-After: the next UTC day) when they do not fit.';

export const LlmProvider = Type.Union([Type.Literal('openai'), Type.Literal('anthropic')]);

export const CompletionBody = Type.Object({
  message: Type.String({ minLength: 1, maxLength: 20_000, pattern: '\\S' }),
  transcription_id: Type.Optional(Type.String({ format: 'uuid', description: 'Ground the answer in this transcript' })),
  session_id: Type.Optional(Type.String({ format: 'uuid', description: 'Continue this session (its transcript and history)' })),
  provider: Type.Optional(LlmProvider),
  model: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  stream: Type.Optional(Type.Boolean({ description: 'Server-sent events; also chosen by Accept: text/event-stream' })),
  redact: Type.Optional(Type.Boolean({ description: REDACT_DOC })),
});

/** /completion's body: scope "all" is answered there only (an async job is grounded in its session's transcript). */
export const AskBody = Type.Object({
  ...CompletionBody.properties,
  scope: Type.Optional(
    Type.Literal('all', {
      description:
        'Without a transcript (no transcription_id, none in the session): ground the answer in the passages of all your ' +
        'transcripts that best match the question; citations then carry recording_id',
    }),
  ),
});

export const Usage = Type.Object({ input_tokens: Type.Integer(), output_tokens: Type.Integer() });

export const CompletionResponse = Type.Object({
  content: Type.String(),
  citations: Type.Array(Citation),
  usage: Usage,
  provider: Type.String(),
  model: Type.String(),
  session_id: Type.String({ format: 'uuid' }),
  message_id: Type.String({ format: 'uuid' }),
  redactions: Nullable(Redactions),
});

export const AsyncCompletionResponse = Type.Object({
  job_id: Type.String({ format: 'uuid' }),
  session_id: Type.String({ format: 'uuid' }),
  message_id: Type.String({ format: 'uuid', description: 'The stored question' }),
});

export const SummaryBody = Type.Object({
  provider: Type.Optional(LlmProvider),
  model: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  redact: Type.Optional(Type.Boolean({ description: REDACT_DOC })),
});

export const SummaryRefreshQuery = Type.Object({
  refresh: Type.Optional(Type.Boolean({ description: 'Make it again even when the stored summary is current (default false)' })),
});

export const SummaryQuery = Type.Object({
  provider: Type.Optional(LlmProvider),
  model: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
});

const Point = Type.Object({ text: Type.String(), segments: Type.Array(Type.Integer()) });

export const SummaryResponse = Type.Object({
  transcription_id: Type.String({ format: 'uuid' }),
  summary: Type.String(),
  key_points: Type.Array(Point),
  action_items: Type.Array(
    Type.Object({ text: Type.String(), owner: Type.Union([Type.String(), Type.Null()]), segments: Type.Array(Type.Integer()) }),
  ),
  language: Type.Union([Type.String(), Type.Null()]),
  citations: Type.Array(Citation),
  cached: Type.Boolean({ description: 'true when returned from storage without a new LLM call' }),
  stale: Type.Boolean({
    description: 'true when the transcript changed (text, speakers, segments) since this summary was made; always false from POST',
  }),
  redacted: Type.Boolean({ description: 'Whether the provider was sent the transcript with personal data replaced by placeholders' }),
  provider: Type.String(),
  model: Type.String(),
  usage: Usage,
  created_at: Type.String({ format: 'date-time' }),
});
