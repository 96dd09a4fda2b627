-- Signed outgoing webhooks (Standard Webhooks) and their delivery log.
CREATE TABLE webhooks (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  url text NOT NULL,
  events text[] NOT NULL,
  secret text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  disabled_at timestamptz,
  UNIQUE (id, user_id)
);
--> statement-breakpoint
CREATE INDEX webhooks_user_id_idx ON webhooks (user_id, id);
--> statement-breakpoint
CREATE TABLE webhook_deliveries (
  id uuid PRIMARY KEY,
  webhook_id uuid NOT NULL,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  event text NOT NULL,
  payload jsonb NOT NULL,
  message_id text NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  last_status_code integer,
  last_error text,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  created_at timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz,
  FOREIGN KEY (webhook_id, user_id) REFERENCES webhooks (id, user_id) ON DELETE CASCADE
);
--> statement-breakpoint
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, id);
--> statement-breakpoint
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
--> statement-breakpoint
SELECT transcribo_protect_table(t) FROM unnest(ARRAY['webhooks', 'webhook_deliveries']) AS t;
