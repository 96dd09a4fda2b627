-- Two non-owner roles. Requests run as transcribo_app with app.user_id set, and RLS limits every
-- query to that user's rows. The system path (auth look-ups, workers) runs as transcribo_system,
-- which has an explicit allow-all policy. Neither role can log in: the connecting user switches
-- to them with SET LOCAL ROLE inside a transaction.
DO $$
BEGIN
  BEGIN
    CREATE ROLE transcribo_app NOLOGIN;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL; -- another database in this cluster made it already
  END;
  BEGIN
    CREATE ROLE transcribo_system NOLOGIN;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
  END;
END
$$;
--> statement-breakpoint
GRANT transcribo_app TO CURRENT_USER;
--> statement-breakpoint
GRANT transcribo_system TO CURRENT_USER;
--> statement-breakpoint
GRANT USAGE ON SCHEMA public TO transcribo_app, transcribo_system;
--> statement-breakpoint
CREATE FUNCTION app_current_user_id() RETURNS uuid
  LANGUAGE sql STABLE
  AS $$ SELECT nullif(current_setting('app.user_id', true), '')::uuid $$;
--> statement-breakpoint
-- Every user-owned table is protected the same way; later migrations call this for theirs.
CREATE FUNCTION transcribo_protect_table(t text, owner_column text DEFAULT 'user_id') RETURNS void
  LANGUAGE plpgsql
  AS $$
BEGIN
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO transcribo_app, transcribo_system', t);
  EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
  EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
  EXECUTE format(
    'CREATE POLICY %I ON %I TO transcribo_app USING (%I = app_current_user_id()) WITH CHECK (%I = app_current_user_id())',
    t || '_owner', t, owner_column, owner_column);
  EXECUTE format('CREATE POLICY %I ON %I TO transcribo_system USING (true) WITH CHECK (true)', t || '_system', t);
END
$$;
--> statement-breakpoint
SELECT transcribo_protect_table('users', 'id');
--> statement-breakpoint
SELECT transcribo_protect_table(t)
  FROM unnest(ARRAY['refresh_tokens', 'api_keys', 'recordings', 'transcriptions', 'transcript_segments',
                    'chat_sessions', 'chat_messages']) AS t;
