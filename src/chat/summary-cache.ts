/**
 * Stored summaries: one per transcription and provider/model, each with the hash of the transcript
 * it was made from, so a changed transcript shows it as stale and the next POST makes it again.
 */

import { createHash } from 'node:crypto';
import { and, desc, eq, sql } from 'drizzle-orm';
import type { Tx } from '../db/client.js';
import { newId } from '../db/ids.js';
import { transcriptSummaries, type StoredSummary } from '../db/schema.js';
import type { TranscriptSegmentRead } from '../transcription/reader.js';

export type SummaryRow = typeof transcriptSummaries.$inferSelect;

export interface SummaryView extends StoredSummary {
  transcription_id: string;
  cached: boolean;
  stale: boolean;
  redacted: boolean;
  provider: string;
  model: string;
  usage: { input_tokens: number; output_tokens: number };
  created_at: string;
}

/**
 * What a summary was made from: the segments' order, speakers and text. A renamed speaker changes
 * who the summary says did what, so it counts as much as the text does.
 */
export function transcriptHash(segments: readonly Pick<TranscriptSegmentRead, 'index' | 'speaker' | 'text'>[]): string {
  const hash = createHash('sha256');
  // JSON keeps the fields apart whatever the text holds, and tells a null speaker from an empty one.
  for (const s of segments) hash.update(`${JSON.stringify([s.index, s.speaker, s.text])}\n`);
  return hash.digest('hex');
}

/** The stored summary of this transcription by this provider and model, if any (however old). */
export async function storedFor(tx: Tx, transcriptionId: string, provider: string, model: string): Promise<SummaryRow | undefined> {
  const [row] = await tx
    .select()
    .from(transcriptSummaries)
    .where(
      and(
        eq(transcriptSummaries.transcriptionId, transcriptionId),
        eq(transcriptSummaries.provider, provider),
        eq(transcriptSummaries.model, model),
      ),
    );
  return row;
}

/** The most recently made summary of this transcription, of the given provider and/or model when named. */
export async function latestStored(
  tx: Tx,
  transcriptionId: string,
  filter: { provider?: string; model?: string },
): Promise<SummaryRow | undefined> {
  const [row] = await tx
    .select()
    .from(transcriptSummaries)
    .where(
      and(
        eq(transcriptSummaries.transcriptionId, transcriptionId),
        filter.provider === undefined ? undefined : eq(transcriptSummaries.provider, filter.provider),
        filter.model === undefined ? undefined : eq(transcriptSummaries.model, filter.model),
      ),
    )
    .orderBy(desc(transcriptSummaries.createdAt), desc(transcriptSummaries.id))
    .limit(1);
  return row;
}

export type NewSummary = Omit<SummaryRow, 'id' | 'createdAt'>;

/** Stores a fresh summary, replacing the one this provider and model made of the transcription before. */
export async function storeSummary(tx: Tx, summary: NewSummary): Promise<SummaryRow> {
  const [stored] = await tx
    .insert(transcriptSummaries)
    .values({ id: newId(), ...summary })
    .onConflictDoUpdate({
      target: [transcriptSummaries.transcriptionId, transcriptSummaries.provider, transcriptSummaries.model],
      set: {
        transcriptHash: summary.transcriptHash,
        content: summary.content,
        redacted: summary.redacted,
        inputTokens: summary.inputTokens,
        outputTokens: summary.outputTokens,
        latencyMs: summary.latencyMs,
        createdAt: sql`now()`,
      },
    })
    .returning();
  return stored!;
}

export function summaryView(row: SummaryRow, flags: { cached: boolean; stale: boolean }): SummaryView {
  return {
    ...row.content,
    transcription_id: row.transcriptionId,
    cached: flags.cached,
    stale: flags.stale,
    redacted: row.redacted,
    provider: row.provider,
    model: row.model,
    usage: { input_tokens: row.inputTokens, output_tokens: row.outputTokens },
    created_at: row.createdAt.toISOString(),
  };
}
