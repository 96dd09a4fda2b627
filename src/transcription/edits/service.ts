import { and, desc, eq, lt, sql } from 'drizzle-orm';
import type { Static } from 'typebox';
import type { AppDatabase, Tx } from '../../db/client.js';
import { transcriptionVersions, transcriptions, type VersionSegment } from '../../db/schema.js';
import { withUser } from '../../db/scope.js';
import { errors } from '../../http/errors.js';
import { toTranscriptionView, type TranscriptionView } from '../view.js';
import { applyPatches, mergeSegments, renameSpeakers, splitSegment, type SegmentPatch } from './operations.js';
import type { VersionDetail, VersionPage } from './schemas.js';
import { assertIfMatch, commitVersion, etagOf, lockTranscript, readSegments, type LockedTranscript, type TranscriptionRow, type VersionAction } from './store.js';

export interface Edited {
  view: TranscriptionView;
  etag: string;
}

/** Who asks, for which transcript, and which version they last read (the If-Match header). */
export interface EditRequest {
  userId: string;
  transcriptionId: string;
  ifMatch?: string;
}

function viewWith(row: TranscriptionRow, segments: VersionSegment[]): Edited {
  return { view: { ...toTranscriptionView(row, []), segments }, etag: etagOf(row.id, row.version) };
}

/** The version 1 an unedited transcript has without a stored row: its segments as they stand. */
function engineVersion(row: TranscriptionRow, segments: VersionSegment[]): Static<typeof VersionDetail> {
  return {
    version: 1,
    action: 'transcribed',
    author_id: null,
    reverted_to: null,
    created_at: (row.completedAt ?? row.createdAt).toISOString(),
    changes: [],
    text: segments.map((s) => s.text).join(' '),
    segments,
  };
}

/**
 * Corrections to a completed transcript. Each one is a new version (see store.ts): segment text,
 * speaker and times, split, merge, speaker renames and reverts all go through `edit`.
 */
export class TranscriptEditor {
  constructor(
    private readonly db: AppDatabase,
    /** TRANSCRIPT_VERSIONS_KEPT: how many of the newest versions stay, besides version 1. */
    private readonly versionsKept: number,
  ) {}

  private edit(
    request: EditRequest,
    action: VersionAction,
    change: (locked: LockedTranscript, tx: Tx) => Promise<VersionSegment[] | null> | VersionSegment[] | null,
    revertedTo?: number,
  ): Promise<Edited> {
    return withUser(this.db, request.userId, async (tx) => {
      const locked = await lockTranscript(tx, request.transcriptionId);
      assertIfMatch(request.ifMatch, locked.row.id, locked.row.version);
      const after = await change(locked, tx);
      if (after === null) return viewWith(locked.row, locked.segments);
      const row = await commitVersion(tx, locked, after, { action, authorId: request.userId, revertedTo, versionsKept: this.versionsKept });
      return viewWith(row, row === locked.row ? locked.segments : after);
    });
  }

  patch(request: EditRequest, patches: SegmentPatch[], field: (i: number) => string): Promise<Edited> {
    return this.edit(request, 'edit', ({ row, segments }) =>
      applyPatches(segments, patches, { duration: row.durationSeconds, field }),
    );
  }

  split(request: EditRequest, segmentId: string, offset: number): Promise<Edited> {
    return this.edit(request, 'split', ({ segments }) => splitSegment(segments, segmentId, offset));
  }

  merge(request: EditRequest, segmentIds: string[]): Promise<Edited> {
    return this.edit(request, 'merge', ({ segments }) => mergeSegments(segments, segmentIds));
  }

  renameSpeakers(request: EditRequest, renames: Record<string, string | null>): Promise<Edited> {
    return this.edit(request, 'speakers', ({ segments }) => renameSpeakers(segments, renames));
  }

  /** Restores version `version`'s segments as a new version; reverting to the current one changes nothing. */
  revert(request: EditRequest, version: number): Promise<Edited> {
    return this.edit(
      request,
      'revert',
      async ({ row }, tx) => {
        if (version === row.version) return null;
        const [stored] = await tx
          .select({ segments: transcriptionVersions.segments })
          .from(transcriptionVersions)
          .where(and(eq(transcriptionVersions.transcriptionId, row.id), eq(transcriptionVersions.version, version)));
        if (!stored) throw errors.notFound('Version');
        return stored.segments;
      },
      version,
    );
  }

  /** Newest first, without the segments; an unedited transcript lists its engine version alone. */
  async listVersions(userId: string, transcriptionId: string, page: { limit: number; cursor?: number }): Promise<Static<typeof VersionPage>> {
    return withUser(this.db, userId, async (tx) => {
      const row = await this.visible(tx, transcriptionId);
      const rows = await tx
        .select({
          version: transcriptionVersions.version,
          action: transcriptionVersions.action,
          authorId: transcriptionVersions.authorId,
          revertedTo: transcriptionVersions.revertedTo,
          createdAt: transcriptionVersions.createdAt,
          changed: sql<number>`jsonb_array_length(${transcriptionVersions.changes})`,
        })
        .from(transcriptionVersions)
        .where(
          and(
            eq(transcriptionVersions.transcriptionId, transcriptionId),
            page.cursor === undefined ? undefined : lt(transcriptionVersions.version, page.cursor),
          ),
        )
        .orderBy(desc(transcriptionVersions.version))
        .limit(page.limit + 1);
      const items = rows.slice(0, page.limit).map((r) => ({
        version: r.version,
        action: r.action as Static<typeof VersionPage>['items'][number]['action'],
        author_id: r.authorId,
        reverted_to: r.revertedTo,
        created_at: r.createdAt.toISOString(),
        changed_segments: Number(r.changed),
      }));
      if (row.version === 1 && page.cursor === undefined) {
        const { changes: _c, text: _t, segments: _s, ...engine } = engineVersion(row, []);
        items.push({ ...engine, changed_segments: 0 });
      }
      const more = rows.length > page.limit;
      return { current_version: row.version, items, next_cursor: more ? String(items[items.length - 1]!.version) : null };
    });
  }

  async getVersion(userId: string, transcriptionId: string, version: number): Promise<Static<typeof VersionDetail>> {
    return withUser(this.db, userId, async (tx) => {
      const row = await this.visible(tx, transcriptionId);
      const [stored] = await tx
        .select()
        .from(transcriptionVersions)
        .where(and(eq(transcriptionVersions.transcriptionId, transcriptionId), eq(transcriptionVersions.version, version)));
      if (!stored) {
        if (version !== 1 || row.version !== 1) throw errors.notFound('Version');
        return engineVersion(row, await readSegments(tx, transcriptionId));
      }
      return {
        version: stored.version,
        action: stored.action as Static<typeof VersionDetail>['action'],
        author_id: stored.authorId,
        reverted_to: stored.revertedTo,
        created_at: stored.createdAt.toISOString(),
        changes: stored.changes,
        text: stored.segments.map((s) => s.text).join(' '),
        segments: stored.segments,
      };
    });
  }

  private async visible(tx: Tx, transcriptionId: string): Promise<TranscriptionRow> {
    const [row] = await tx.select().from(transcriptions).where(eq(transcriptions.id, transcriptionId));
    if (!row) throw errors.notFound('Transcription');
    return row;
  }
}
