/**
 * Reads a transcript for an edit and writes the edit as a new version, inside the caller's
 * `withUser` transaction: row-level security decides what is visible, and the transcription row
 * stays locked until commit, so concurrent edits apply one after the other, never over each other.
 */

import { asc, eq, sql } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { newId } from '../../db/ids.js';
import { transcriptSegments, transcriptionVersions, transcriptions, type SegmentChange, type VersionSegment } from '../../db/schema.js';
import { AppError, errors } from '../../http/errors.js';
import { enqueueEvent } from '../../webhooks/service.js';
import { searchConfigFor } from '../search-config.js';
import { insertSegments } from '../segment-store.js';
import { toSegmentView } from '../view.js';
import { diffSegments } from './diff.js';

export type TranscriptionRow = typeof transcriptions.$inferSelect;
export type VersionAction = 'edit' | 'split' | 'merge' | 'speakers' | 'revert';

export interface LockedTranscript {
  row: TranscriptionRow;
  segments: VersionSegment[];
}

/** `"<transcription id>.<version>"`: the strong validator of a transcript's current version. */
export function etagOf(transcriptionId: string, version: number): string {
  return `"${transcriptionId}.${version}"`;
}

/** Whether an If-Match header names the current version (`*` names any); absent: no condition. */
export function assertIfMatch(ifMatch: string | undefined, transcriptionId: string, version: number): void {
  if (ifMatch === undefined) return;
  const current = etagOf(transcriptionId, version);
  // Version numbers never repeat, so a weak form of the same tag names the same version.
  const tags = ifMatch.split(',').map((t) => t.trim().replace(/^W\//, ''));
  if (tags.includes('*') || tags.includes(current)) return;
  throw new AppError(
    'version_conflict',
    `The transcript is at version ${version} (ETag ${current}), not the one If-Match names; read it again and redo the edit`,
    undefined,
    { etag: current },
  );
}

/** The transcription, locked for this transaction, and its segments; 404 when invisible, 409 until completed. */
export async function lockTranscript(tx: Tx, transcriptionId: string): Promise<LockedTranscript> {
  const [row] = await tx.select().from(transcriptions).where(eq(transcriptions.id, transcriptionId)).for('update');
  if (!row) throw errors.notFound('Transcription');
  if (row.status !== 'completed') {
    throw new AppError('transcription_not_ready', `The transcription is ${row.status}; only completed transcripts can be edited`);
  }
  return { row, segments: await readSegments(tx, transcriptionId) };
}

export async function readSegments(tx: Tx, transcriptionId: string): Promise<VersionSegment[]> {
  const rows = await tx
    .select()
    .from(transcriptSegments)
    .where(eq(transcriptSegments.transcriptionId, transcriptionId))
    .orderBy(asc(transcriptSegments.index));
  return rows.map(toSegmentView);
}

/** Rewrites the segments that changed, in one statement per kind of change. */
async function syncSegments(tx: Tx, row: TranscriptionRow, after: readonly VersionSegment[], changes: readonly SegmentChange[]) {
  const byId = new Map(after.map((s) => [s.id, s]));
  const deleted = changes.filter((c) => c.op === 'delete').map((c) => c.segment_id);
  const updated = changes.filter((c) => c.op === 'update').map((c) => byId.get(c.segment_id)!);
  const inserted = changes.filter((c) => c.op === 'insert').map((c) => byId.get(c.segment_id)!);
  if (deleted.length > 0) {
    await tx.execute(sql`delete from transcript_segments
      where transcription_id = ${row.id} and id = any(${sql.param(deleted)}::uuid[])`);
  }
  if (updated.length > 0) {
    const column = <K extends keyof VersionSegment>(key: K) => sql.param(updated.map((s) => s[key]));
    const words = sql.param(updated.map((s) => (s.words === null ? null : JSON.stringify(s.words))));
    await tx.execute(sql`
      update transcript_segments s set index = u.index, start_seconds = u.start_seconds, end_seconds = u.end_seconds,
        text = u.text, words = u.words, speaker = u.speaker, avg_logprob = u.avg_logprob,
        compression_ratio = u.compression_ratio, no_speech_prob = u.no_speech_prob, temperature = u.temperature
      from unnest(${column('id')}::uuid[], ${column('index')}::integer[], ${column('start')}::double precision[],
        ${column('end')}::double precision[], ${column('text')}::text[], ${words}::jsonb[], ${column('speaker')}::text[],
        ${column('avg_logprob')}::double precision[], ${column('compression_ratio')}::double precision[],
        ${column('no_speech_prob')}::double precision[], ${column('temperature')}::double precision[])
        as u(id, index, start_seconds, end_seconds, text, words, speaker, avg_logprob, compression_ratio, no_speech_prob, temperature)
      where s.id = u.id and s.transcription_id = ${row.id}`);
  }
  if (inserted.length > 0) {
    await insertSegments(
      tx,
      inserted.map((s) => ({
        id: s.id,
        userId: row.userId,
        transcriptionId: row.id,
        index: s.index,
        start: s.start,
        end: s.end,
        text: s.text,
        words: s.words,
        speaker: s.speaker,
        avgLogprob: s.avg_logprob,
        compressionRatio: s.compression_ratio,
        noSpeechProb: s.no_speech_prob,
        temperature: s.temperature,
        searchConfig: searchConfigFor(row.language),
      })),
    );
  }
}

/**
 * Writes `after` as the transcript's next version: the changed segments, the text, the version
 * row (with the engine's version 1 kept first, at the first edit; past `versionsKept`, the oldest
 * but version 1 dropped) and a `transcription.edited` webhook. An edit that changes nothing makes no version and returns the row as it was.
 */
export async function commitVersion(
  tx: Tx,
  locked: LockedTranscript,
  after: VersionSegment[],
  meta: { action: VersionAction; authorId: string; revertedTo?: number; versionsKept: number },
): Promise<TranscriptionRow> {
  const { row, segments: before } = locked;
  const changes = diffSegments(before, after);
  if (changes.length === 0) return row;
  if (row.version === 1) {
    await tx.insert(transcriptionVersions).values({
      id: newId(),
      userId: row.userId,
      transcriptionId: row.id,
      version: 1,
      action: 'transcribed',
      authorId: null,
      changes: [],
      segments: before,
      createdAt: row.completedAt ?? row.createdAt,
    });
  }
  await syncSegments(tx, row, after, changes);
  const version = row.version + 1;
  const [updated] = await tx
    .update(transcriptions)
    .set({ text: after.map((s) => s.text).join(' '), version })
    .where(eq(transcriptions.id, row.id))
    .returning();
  await tx.insert(transcriptionVersions).values({
    id: newId(),
    userId: row.userId,
    transcriptionId: row.id,
    version,
    action: meta.action,
    authorId: meta.authorId,
    revertedTo: meta.revertedTo ?? null,
    changes,
    segments: after,
  });
  // Each version holds a whole snapshot, so a transcript edited without end would grow without end:
  // the oldest go, but never version 1, what the engine wrote.
  await tx.execute(sql`delete from transcription_versions
    where transcription_id = ${row.id} and version > 1 and version <= ${version - meta.versionsKept}`);
  // Ids and counts only: the text may hold what redaction keeps from third parties.
  await enqueueEvent(tx, row.userId, 'transcription.edited', {
    transcription_id: row.id,
    recording_id: row.recordingId,
    version,
    action: meta.action,
    changed_segments: changes.length,
  });
  return updated!;
}
