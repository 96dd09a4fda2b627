-- Whisper's per-segment decoding figures, kept as the engine reported them (OpenAI-compatible
-- servers do; whisper.cpp's addon and pocketsphinx do not). Null means unknown: verbose_json then
-- says null rather than a made-up 0. The table's row-level security (0002) covers the new columns.
ALTER TABLE transcript_segments
  ADD COLUMN avg_logprob double precision,
  ADD COLUMN compression_ratio double precision,
  ADD COLUMN no_speech_prob double precision,
  ADD COLUMN temperature double precision;
