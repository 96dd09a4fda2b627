-- Known speakers a transcription asked a diarizing engine to recognise: {"names": [...],
-- "references": ["data:audio/...;base64,..."]}, paired by position, at most four; null for none.
-- The worker passes them to the engine (OpenAI's known_speaker_names[] / known_speaker_references[]).
-- The table's row-level security (0002) covers the new column.
ALTER TABLE transcriptions
  ADD COLUMN speaker_hints jsonb;
