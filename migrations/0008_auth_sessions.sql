-- What an API key may do beyond acting as its owner. `keys:manage`: create, list and revoke API
-- keys. Keys made before this have none: credentials are managed by interactive log-ins.
ALTER TABLE api_keys ADD COLUMN scopes text[] NOT NULL DEFAULT '{}';
--> statement-breakpoint
-- A log-in (session) is a refresh-token family: access tokens carry its id as `sid`, and a request
-- is refused once no token of the family is unrevoked. The partial index answers that check.
CREATE INDEX refresh_tokens_live_family_idx ON refresh_tokens (family_id) WHERE revoked_at IS NULL;
--> statement-breakpoint
-- Log-in attempts per account, shared by every API process. The key is the SHA-256 of the
-- lower-cased e-mail, whether an account has it or not (a lock must not tell which exist), so no
-- user owns these rows: only the system role may touch them, and the request role has no grant.
CREATE TABLE login_attempts (
  account_key text PRIMARY KEY,
  failures integer NOT NULL DEFAULT 0,
  locked_until timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);
--> statement-breakpoint
CREATE INDEX login_attempts_updated_idx ON login_attempts (updated_at);
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON login_attempts TO transcribo_system;
