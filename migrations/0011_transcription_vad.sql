-- Voice activity detection asked for a batch transcription: {"threshold", "prefixPaddingMs",
-- "silenceDurationMs"}, or null for the whole audio as decoded. The worker cuts silence before the
-- engine and maps times back. The table's row-level security (0002) covers the new column.
ALTER TABLE transcriptions
  ADD COLUMN vad jsonb;
