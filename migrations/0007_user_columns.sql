-- A request may change its account's e-mail or password, never its id or role: a self-promotion to
-- admin is refused by PostgreSQL itself, whatever a query in the application does. Roles change
-- only on the system path (src/auth/roles.ts).
REVOKE UPDATE ON users FROM transcribo_app;
--> statement-breakpoint
GRANT UPDATE (email, password_hash, updated_at) ON users TO transcribo_app;
