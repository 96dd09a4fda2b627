-- Full-text search in each transcript's own language: the configuration is stored per segment
-- and the generated vector uses it, so Spanish is stemmed as Spanish and English as English.
ALTER TABLE transcript_segments ADD COLUMN search_config regconfig NOT NULL DEFAULT 'simple';
--> statement-breakpoint
ALTER TABLE transcript_segments DROP COLUMN search_vector;
--> statement-breakpoint
ALTER TABLE transcript_segments ADD COLUMN search_vector tsvector
  GENERATED ALWAYS AS (to_tsvector(search_config, text)) STORED;
--> statement-breakpoint
CREATE INDEX transcript_segments_search_idx ON transcript_segments USING gin (search_vector);
--> statement-breakpoint
-- A summary per transcription, reused until the transcript it was made from changes.
CREATE TABLE transcript_summaries (
  id uuid PRIMARY KEY,
  transcription_id uuid NOT NULL UNIQUE,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  transcript_hash text NOT NULL,
  content jsonb NOT NULL,
  provider text NOT NULL,
  model text NOT NULL,
  input_tokens integer NOT NULL,
  output_tokens integer NOT NULL,
  latency_ms integer NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (transcription_id, user_id) REFERENCES transcriptions (id, user_id) ON DELETE CASCADE
);
--> statement-breakpoint
-- Every LLM call's tokens, for the per-user daily limit and for accounting.
CREATE TABLE llm_usage (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  purpose text NOT NULL,
  provider text NOT NULL,
  model text NOT NULL,
  input_tokens integer NOT NULL,
  output_tokens integer NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
--> statement-breakpoint
CREATE INDEX llm_usage_user_day_idx ON llm_usage (user_id, created_at);
--> statement-breakpoint
SELECT transcribo_protect_table(t) FROM unnest(ARRAY['transcript_summaries', 'llm_usage']) AS t;
