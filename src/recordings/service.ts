import { createHash } from 'node:crypto';
import { and, desc, eq, getTableColumns, inArray, isNotNull, lt, sql } from 'drizzle-orm';
import type { Static } from 'typebox';
import type { Database, Tx } from '../db/client.js';
import { newId } from '../db/ids.js';
import { compileRead, reads, readAsUser } from '../db/read.js';
import { recordings, transcriptions } from '../db/schema.js';
import { withUser } from '../db/scope.js';
import { AppError, errors } from '../http/errors.js';
import type { UploadScanner } from '../scanning/upload-scanner.js';
import type { BlobRange, BlobStore } from '../storage/blob-store.js';
import { storeAudio, titleFromFilename, type ReceivedAudio } from './audio-intake.js';
import { toPage } from '../http/pagination.js';
import type { JobService } from '../jobs/service.js';
import type { TranscriptionService } from '../transcription/service.js';
import type { Recording, RecordingWithTranscription, TextUploadBody } from './schemas.js';

const { originalText: _originalText, ...COLUMNS_BUT_TEXT } = getTableColumns(recordings);

export type RecordingView = Static<typeof Recording>;
type RecordingRow = typeof recordings.$inferSelect;

export function toRecordingView(row: RecordingRow): RecordingView {
  return {
    id: row.id,
    title: row.title,
    language: row.language,
    source: row.source,
    kind: row.kind as RecordingView['kind'],
    original_text: row.originalText,
    mime_type: row.mimeType,
    size_bytes: row.sizeBytes,
    duration_seconds: row.durationSeconds,
    sha256: row.sha256,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

// Compiled once: a request only fills in the placeholders. No owner filter: RLS is the filter.
const newestFirst = () => reads.select().from(recordings).orderBy(desc(recordings.id)).limit(sql.placeholder('limit'));
const FIRST_PAGE = compileRead(newestFirst());
const NEXT_PAGE = compileRead(newestFirst().where(lt(recordings.id, sql.placeholder('cursor'))));
const BY_ID = compileRead(reads.select().from(recordings).where(eq(recordings.id, sql.placeholder('id'))));

export interface AudioFields {
  title?: string;
  language?: string;
  source?: string;
}

export class RecordingService {
  constructor(
    private readonly database: Pick<Database, 'db' | 'pool'>,
    private readonly transcriptions: TranscriptionService,
    private readonly blobs: BlobStore,
    private readonly jobs: JobService,
    /** CLAMAV_URL's malware scan of text uploads (audio is scanned at intake); none when unset. */
    private readonly scanner?: UploadScanner,
  ) {}

  /**
   * Stores a received audio file and its recording row. The blob is written first and removed
   * again if the row cannot be, so a failure leaves neither behind.
   */
  async createAudioEntry(userId: string, audio: ReceivedAudio, fields: AudioFields, filename: string | undefined) {
    return (await this.createAudioEntryWith(userId, audio, fields, filename, async () => undefined)).recording;
  }

  /**
   * createAudioEntry, and `alsoInTx` in the same transaction as the recording row (a live
   * session's completed transcription): both are stored, or neither and no blob.
   */
  async createAudioEntryWith<T>(
    userId: string,
    audio: ReceivedAudio,
    fields: AudioFields,
    filename: string | undefined,
    alsoInTx: (tx: Tx, recordingId: string) => Promise<T>,
    /** A live session's recording has the id its client was told at the start. */
    id: string = newId(),
  ): Promise<{ recording: RecordingView; also: T }> {
    const key = `recordings/${userId}/${id}.${audio.type.extension}`;
    await storeAudio(this.blobs, key, audio);
    try {
      const row = await withUser(this.database.db, userId, async (tx) => {
        const [created] = await tx
          .insert(recordings)
          .values({
            id,
            userId,
            title: fields.title?.trim() || titleFromFilename(filename),
            language: fields.language ?? null,
            source: fields.source ?? 'upload',
            kind: 'audio',
            blobKey: key,
            mimeType: audio.type.mime,
            sizeBytes: audio.size,
            durationSeconds: audio.durationSeconds,
            sha256: audio.sha256,
          })
          .returning();
        return { created: created!, also: await alsoInTx(tx, id) };
      });
      return { recording: toRecordingView(row.created), also: row.also };
    } catch (error) {
      await this.blobs.delete(key).catch(() => undefined);
      throw error;
    }
  }

  /** Where a recording's original audio is, for streaming it back. */
  async audioFile(userId: string, id: string): Promise<{ key: string; size: number; mimeType: string; title: string }> {
    const row = await withUser(this.database.db, userId, async (tx) => {
      const [found] = await tx.select().from(recordings).where(eq(recordings.id, id));
      return found;
    });
    if (!row) throw errors.notFound('Recording');
    if (!row.blobKey) {
      throw new AppError('recording_has_no_audio', 'This recording was uploaded as text; it has no audio file');
    }
    return { key: row.blobKey, size: row.sizeBytes, mimeType: row.mimeType ?? 'application/octet-stream', title: row.title };
  }

  readAudio(key: string, range?: BlobRange) {
    return this.blobs.get(key, range);
  }

  /** The seed's text path: the user already has the transcript, so it is stored completed. */
  async createTextEntry(
    userId: string,
    input: Static<typeof TextUploadBody>,
  ): Promise<Static<typeof RecordingWithTranscription>> {
    const bytes = Buffer.from(input.original_text, 'utf8');
    await this.scanner?.scanBytes(bytes);
    const language = input.language ?? null;
    return withUser(this.database.db, userId, async (tx) => {
      const [row] = await tx
        .insert(recordings)
        .values({
          id: newId(),
          userId,
          title: input.title.trim(),
          language,
          source: input.source,
          kind: 'text',
          originalText: input.original_text,
          mimeType: 'text/plain; charset=utf-8',
          sizeBytes: bytes.length,
          sha256: createHash('sha256').update(bytes).digest('hex'),
        })
        // Not the text itself: reading megabytes back would only hold the event loop to decode them.
        .returning(COLUMNS_BUT_TEXT);
      const transcription = await this.transcriptions.insertFromText(tx, {
        userId,
        recordingId: row!.id,
        text: input.original_text,
        language,
      });
      return { ...toRecordingView({ ...row!, originalText: input.original_text }), transcription };
    });
  }

  async list(userId: string, page: { limit: number; cursor?: string }) {
    const values = { limit: page.limit + 1, cursor: page.cursor };
    const rows = await readAsUser(this.database, userId, page.cursor ? NEXT_PAGE : FIRST_PAGE, values);
    return toPage(rows, page.limit, toRecordingView);
  }

  async get(userId: string, id: string): Promise<RecordingView> {
    const [row] = await readAsUser(this.database, userId, BY_ID, { id });
    if (!row) throw errors.notFound('Recording');
    return toRecordingView(row);
  }

  /**
   * Deletes the recording; its transcriptions and segments go with it (ON DELETE CASCADE), and its
   * blob after the row is gone (a blob without a row is garbage; a row without its blob is broken).
   * Its transcriptions still queued or running are cancelled: no engine goes on for a deleted recording.
   */
  async delete(userId: string, id: string): Promise<void> {
    const deleted = await withUser(this.database.db, userId, async (tx) => {
      // Locked first: a transcription requested meanwhile waits for this delete, so none is missed.
      const [recording] = await tx
        .select({ blobKey: recordings.blobKey })
        .from(recordings)
        .where(eq(recordings.id, id))
        .for('update');
      if (!recording) return null;
      const jobIds = await unfinishedTranscriptionJobs(tx, id);
      await tx.delete(recordings).where(eq(recordings.id, id));
      return { blobKey: recording.blobKey, jobIds };
    });
    if (!deleted) throw errors.notFound('Recording');
    // The cancel of POST /jobs/{id}/cancel: it reaches the engine in whichever process runs the job.
    await Promise.all(deleted.jobIds.map((jobId) => this.jobs.cancel(userId, jobId)));
    if (deleted.blobKey) await this.blobs.delete(deleted.blobKey);
  }
}

/** Jobs of a recording's transcriptions that have not finished, read before the cascade unlinks them. */
async function unfinishedTranscriptionJobs(tx: Tx, recordingId: string): Promise<string[]> {
  const rows = await tx
    .select({ jobId: transcriptions.jobId })
    .from(transcriptions)
    .where(
      and(
        eq(transcriptions.recordingId, recordingId),
        inArray(transcriptions.status, ['queued', 'processing']),
        isNotNull(transcriptions.jobId),
      ),
    );
  return rows.flatMap((row) => (row.jobId ? [row.jobId] : []));
}
