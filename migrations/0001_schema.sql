-- Tables. Ids are UUIDv7 made by the application, so ordering by id is ordering by creation.
CREATE TABLE users (
  id uuid PRIMARY KEY,
  email text,
  password_hash text,
  supabase_id text UNIQUE,
  role text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
--> statement-breakpoint
-- Local accounts log in by e-mail, so theirs is unique; Supabase users are keyed by their subject.
CREATE UNIQUE INDEX users_local_email_idx ON users (lower(email)) WHERE supabase_id IS NULL;
--> statement-breakpoint
CREATE TABLE refresh_tokens (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  family_id uuid NOT NULL,
  token_hash text NOT NULL UNIQUE,
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  revoked_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
--> statement-breakpoint
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
--> statement-breakpoint
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);
--> statement-breakpoint
CREATE TABLE api_keys (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name text NOT NULL,
  prefix text NOT NULL,
  key_hash text NOT NULL UNIQUE,
  expires_at timestamptz,
  last_used_at timestamptz,
  revoked_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
--> statement-breakpoint
CREATE INDEX api_keys_user_idx ON api_keys (user_id, id);
--> statement-breakpoint
CREATE TABLE recordings (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  title text NOT NULL,
  language text,
  source text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('text', 'audio')),
  original_text text,
  blob_key text,
  mime_type text,
  size_bytes bigint NOT NULL,
  duration_seconds double precision,
  sha256 text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (id, user_id)
);
--> statement-breakpoint
CREATE INDEX recordings_user_id_id_idx ON recordings (user_id, id);
--> statement-breakpoint
CREATE TABLE transcriptions (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  recording_id uuid NOT NULL,
  engine text NOT NULL,
  model text,
  language text,
  status text NOT NULL CHECK (status IN ('queued', 'processing', 'completed', 'failed', 'cancelled')),
  progress integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
  text text,
  error text,
  duration_seconds double precision,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  completed_at timestamptz,
  UNIQUE (id, user_id),
  -- Composite keys: foreign keys ignore RLS, so they also pin a child row to its parent's owner.
  FOREIGN KEY (recording_id, user_id) REFERENCES recordings (id, user_id) ON DELETE CASCADE
);
--> statement-breakpoint
CREATE INDEX transcriptions_recording_idx ON transcriptions (recording_id, id);
--> statement-breakpoint
CREATE INDEX transcriptions_user_idx ON transcriptions (user_id);
--> statement-breakpoint
CREATE TABLE transcript_segments (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  transcription_id uuid NOT NULL,
  index integer NOT NULL,
  start_seconds double precision,
  end_seconds double precision,
  text text NOT NULL,
  words jsonb,
  speaker text,
  search_vector tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED,
  UNIQUE (transcription_id, index),
  FOREIGN KEY (transcription_id, user_id) REFERENCES transcriptions (id, user_id) ON DELETE CASCADE
);
--> statement-breakpoint
CREATE INDEX transcript_segments_search_idx ON transcript_segments USING gin (search_vector);
--> statement-breakpoint
CREATE INDEX transcript_segments_user_idx ON transcript_segments (user_id);
--> statement-breakpoint
CREATE TABLE chat_sessions (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  title text NOT NULL,
  transcription_id uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (id, user_id),
  FOREIGN KEY (transcription_id, user_id) REFERENCES transcriptions (id, user_id) ON DELETE SET NULL (transcription_id)
);
--> statement-breakpoint
CREATE INDEX chat_sessions_user_idx ON chat_sessions (user_id, id);
--> statement-breakpoint
CREATE INDEX chat_sessions_transcription_idx ON chat_sessions (transcription_id);
--> statement-breakpoint
CREATE TABLE chat_messages (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  session_id uuid NOT NULL,
  role text NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
  content text NOT NULL,
  provider text,
  model text,
  input_tokens integer,
  output_tokens integer,
  latency_ms integer,
  citations jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (session_id, user_id) REFERENCES chat_sessions (id, user_id) ON DELETE CASCADE
);
--> statement-breakpoint
CREATE INDEX chat_messages_session_idx ON chat_messages (session_id, id);
--> statement-breakpoint
CREATE INDEX chat_messages_user_idx ON chat_messages (user_id);
