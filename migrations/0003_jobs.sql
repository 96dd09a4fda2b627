-- Background work a user can poll. The in-process queue keeps all its state here, so queued and
-- interrupted jobs survive a restart; a running job holds a lease that its worker renews.
CREATE TABLE jobs (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  type text NOT NULL,
  payload_version integer NOT NULL DEFAULT 1,
  payload jsonb NOT NULL,
  status text NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
  progress integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
  result jsonb,
  error text,
  error_code text,
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL DEFAULT 3,
  run_after timestamptz NOT NULL DEFAULT now(),
  locked_by text,
  locked_until timestamptz,
  cancel_requested boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);
--> statement-breakpoint
CREATE INDEX jobs_runnable_idx ON jobs (run_after, id) WHERE status = 'queued';
--> statement-breakpoint
CREATE INDEX jobs_running_idx ON jobs (locked_until) WHERE status = 'running';
--> statement-breakpoint
CREATE INDEX jobs_user_idx ON jobs (user_id, id);
--> statement-breakpoint
ALTER TABLE transcriptions ADD COLUMN job_id uuid REFERENCES jobs (id) ON DELETE SET NULL;
--> statement-breakpoint
ALTER TABLE transcriptions ADD COLUMN prompt text;
--> statement-breakpoint
ALTER TABLE transcriptions ADD COLUMN word_timestamps boolean NOT NULL DEFAULT false;
--> statement-breakpoint
ALTER TABLE transcriptions ADD COLUMN error_code text;
--> statement-breakpoint
SELECT transcribo_protect_table('jobs');
