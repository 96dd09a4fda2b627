import { Type } from 'typebox';
import { Nullable, PageQuery } from '../http/schemas.js';

/** Roles as stored: `system` only on rows written before clients were refused it (sent to models as user text). */
/** The `redact` field of every request that asks a model. */
export const REDACT_DOC =
  'Replace personal data with placeholders before the provider sees it: true always; false not, unless the server ' +
  'runs LLM_REDACT_PII=all; absent follows LLM_REDACT_PII';

export const ChatRole = Type.Union([Type.Literal('user'), Type.Literal('assistant'), Type.Literal('system')]);

/** What a client may write: its own words, or earlier answers when importing a conversation. Never instructions. */
export const ClientRole = Type.Union([Type.Literal('user'), Type.Literal('assistant')], {
  default: 'user',
  description: '`user`, or `assistant` to import earlier answers; `system` is refused (422): the instructions are the server\'s',
});

export const Citation = Type.Object({
  segment_id: Type.String({ format: 'uuid' }),
  start: Nullable(Type.Number()),
  end: Nullable(Type.Number()),
  text: Type.String(),
  recording_id: Type.Optional(Type.String({ format: 'uuid', description: 'Answers across all transcripts (scope "all"): the recording cited' })),
});

/** Per kind, how many values the provider saw only as placeholders; never the values. */
export const Redactions = Type.Record(Type.String(), Type.Integer({ minimum: 1 }), {
  description:
    'Answers only: values of each kind (email, phone, card, iban, ssn, dni, ip, name) replaced by placeholders in the ' +
    'prompt, e.g. {"email": 2}; null when the prompt was sent unredacted',
});

export const ChatMessage = Type.Object({
  id: Type.String({ format: 'uuid' }),
  session_id: Type.String({ format: 'uuid' }),
  role: ChatRole,
  content: Type.String(),
  provider: Nullable(Type.String()),
  model: Nullable(Type.String()),
  input_tokens: Nullable(Type.Integer()),
  output_tokens: Nullable(Type.Integer()),
  latency_ms: Nullable(Type.Integer()),
  citations: Nullable(Type.Array(Citation)),
  redactions: Nullable(Redactions),
  created_at: Type.String({ format: 'date-time' }),
});

export const ChatSession = Type.Object({
  id: Type.String({ format: 'uuid' }),
  title: Type.String(),
  transcription_id: Nullable(Type.String({ format: 'uuid' })),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});

export const SessionListQuery = Type.Object({
  ...PageQuery.properties,
  transcription_id: Type.Optional(
    Type.String({ format: 'uuid', description: "Only the sessions about this transcription (a transcript's earlier conversations)" }),
  ),
});

export const ChatSessionWithMessages = Type.Object({
  ...ChatSession.properties,
  messages: Type.Array(ChatMessage),
});

export const CreateSessionBody = Type.Object({
  title: Type.String({ minLength: 1, maxLength: 500, pattern: '\\S', default: 'New chat' }),
  transcription_id: Type.Optional(Type.String({ format: 'uuid' })),
});

export const CreateMessageBody = Type.Object({
  content: Type.String({ minLength: 1, maxLength: 100_000 }),
  role: ClientRole,
  reply: Type.Optional(
    Type.Boolean({
      description:
        'For user messages: answer as the assistant, grounded in the session\'s transcript. Defaults to true when an ' +
        'LLM provider is configured (false otherwise); true without one is 503 llm_not_configured.',
    }),
  ),
  provider: Type.Optional(Type.Union([Type.Literal('openai'), Type.Literal('anthropic')])),
  model: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  redact: Type.Optional(Type.Boolean({ description: REDACT_DOC })),
});

export const MessageWithReply = Type.Object({
  ...ChatMessage.properties,
  reply: Nullable(ChatMessage),
});
