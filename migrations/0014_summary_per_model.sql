-- A summary per transcription and provider/model: asking another model for a summary must not be
-- answered with the first model's, and each model's summary is reused until the transcript changes.
ALTER TABLE transcript_summaries
  DROP CONSTRAINT transcript_summaries_transcription_id_key,
  ADD CONSTRAINT transcript_summaries_transcription_model_key UNIQUE (transcription_id, provider, model);
--> statement-breakpoint
-- Whether the provider was sent the transcript with personal data replaced (LLM_REDACT_PII,
-- `redact`). A request that must redact is never answered with a summary made without it. Rows
-- made before this column count as not redacted: at worst they are made again, never leaked.
ALTER TABLE transcript_summaries
  ADD COLUMN redacted boolean NOT NULL DEFAULT false;
