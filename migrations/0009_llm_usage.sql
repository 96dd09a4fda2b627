-- LLM_DAILY_TOKEN_LIMIT is reserved before a provider call, not checked after it: a call first
-- writes its row as a pending reservation (prompt estimate + the most it may answer), under a
-- per-user lock, and the row is settled to the provider's reported usage when the call ends.
-- Rows from before this migration were written after their call, so they are settled.
ALTER TABLE llm_usage ADD COLUMN pending boolean NOT NULL DEFAULT false;
