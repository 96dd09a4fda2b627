-- Transcripts people correct. Each edit (segment text, speaker, times, split, merge, speaker
-- rename, revert) makes a new version of the transcription; `version` is the current one, and
-- the ETag clients send back in If-Match. The engine's output is version 1.
ALTER TABLE transcriptions
  ADD COLUMN version integer NOT NULL DEFAULT 1;
--> statement-breakpoint
-- Every version: who made it, what it changed, and the whole segment list as it then stood, so a
-- version can be shown or reverted to without replaying history. Version 1 is written at the
-- first edit (an unedited transcript costs nothing here).
CREATE TABLE transcription_versions (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  transcription_id uuid NOT NULL,
  version integer NOT NULL,
  action text NOT NULL CHECK (action IN ('transcribed', 'edit', 'split', 'merge', 'speakers', 'revert')),
  -- The user whose request made it (null for the engine's version 1).
  author_id uuid,
  reverted_to integer,
  changes jsonb NOT NULL,
  segments jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (transcription_id, version),
  FOREIGN KEY (transcription_id, user_id) REFERENCES transcriptions (id, user_id) ON DELETE CASCADE
);
--> statement-breakpoint
CREATE INDEX transcription_versions_user_idx ON transcription_versions (user_id);
--> statement-breakpoint
SELECT transcribo_protect_table('transcription_versions');
--> statement-breakpoint
-- A split or merge renumbers the segments after it in one statement; checked at commit, a
-- shifted index never collides with the row it is about to replace.
ALTER TABLE transcript_segments
  DROP CONSTRAINT transcript_segments_transcription_id_index_key,
  ADD CONSTRAINT transcript_segments_transcription_id_index_key UNIQUE (transcription_id, index) DEFERRABLE INITIALLY DEFERRED;
