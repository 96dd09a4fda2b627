-- Personal data kept from LLM providers (LLM_REDACT_PII). Each answer records how many values of
-- each kind were replaced by placeholders ({"email": 2, "card": 1}), never the values; null when
-- its prompt was not redacted. The table's row-level security (0002) covers the new column.
ALTER TABLE chat_messages
  ADD COLUMN redactions jsonb;
--> statement-breakpoint
-- A user's sensitive terms (names, places, projects): redacted like e-mails and card numbers.
-- PUT /api/v1/privacy/terms replaces the whole list, so a term is stored once per user.
CREATE TABLE privacy_terms (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  term text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (user_id, term)
);
--> statement-breakpoint
SELECT transcribo_protect_table('privacy_terms');
