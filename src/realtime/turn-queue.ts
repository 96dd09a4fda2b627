/**
 * Committed turns of one session, transcribed in order, one at a time: each is written as a 16 kHz
 * WAV in the session's temp folder and given to the session's engine, under a process-wide limit
 * on engine runs (so that many sessions queue rather than overload the machine). Results go to the
 * client as delta / completed / failed events, and are kept for storing the session.
 */
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { rm, writeFile } from 'node:fs/promises';
import { ConcurrencyLimiter } from '../audio/limiter.js';
import { encodeWav } from '../audio/wav.js';
import type { WordTiming } from '../db/schema.js';
import { EngineError, type TranscriptionEngine } from '../transcription/engines/engine.js';
import { SESSION_RATE } from './audio-format.js';
import type { ServerEvent } from './protocol.js';

/** Engine runs of realtime turns in this process: CPU-bound, so no more than the cores. */
export const realtimeEngineRuns = new ConcurrencyLimiter(availableParallelism());

export interface Turn {
  itemId: string;
  /** Session sample index of the first sample. */
  start: number;
  samples: Int16Array;
}

export interface TranscribedTurn {
  /** Seconds from the session start. */
  start: number;
  end: number;
  text: string;
  words?: WordTiming[];
}

export interface TurnSettings {
  engine: TranscriptionEngine;
  model?: string;
  language?: string;
  prompt?: string;
}

export interface TurnQueueDeps {
  dir: string;
  send: (event: ServerEvent) => void;
  /** Whether the client is reading fast enough for optional events (deltas). */
  canSendOptional: () => boolean;
  signal: AbortSignal;
  onEngineError?: (error: unknown) => void;
  /** A turn was transcribed (for the metrics). */
  onTurn?: (engine: string) => void;
}

export class TurnQueue {
  readonly done: TranscribedTurn[] = [];
  /** Language the engine reported, for the stored transcription. */
  language: string | null = null;
  model: string | null = null;
  private chain: Promise<void> = Promise.resolve();
  private waitingSamples = 0;

  constructor(private readonly deps: TurnQueueDeps) {}

  /** Seconds of audio committed and not yet transcribed. */
  get backlogSeconds(): number {
    return this.waitingSamples / SESSION_RATE;
  }

  add(turn: Turn, settings: TurnSettings): void {
    this.waitingSamples += turn.samples.length;
    this.chain = this.chain.then(async () => {
      try {
        await this.transcribe(turn, settings);
      } finally {
        this.waitingSamples -= turn.samples.length;
      }
    });
  }

  /** Resolves when every turn added so far is done. */
  idle(): Promise<void> {
    return this.chain;
  }

  private async transcribe(turn: Turn, settings: TurnSettings): Promise<void> {
    const { send } = this.deps;
    const seconds = turn.samples.length / SESSION_RATE;
    const wavPath = path.join(this.deps.dir, `${turn.itemId}.wav`);
    let streamed = false;
    try {
      await writeFile(wavPath, encodeWav(turn.samples, SESSION_RATE));
      const result = await realtimeEngineRuns.run(() =>
        settings.engine.transcribe(
          { wavPath, durationSeconds: seconds },
          {
            language: settings.language,
            prompt: settings.prompt,
            model: settings.model,
            wordTimestamps: false,
            signal: this.deps.signal,
            onSegment: (segment) => {
              const delta = segment.text.trim();
              if (!delta || !this.deps.canSendOptional()) return;
              const text = `${streamed ? ' ' : ''}${delta}`;
              send({ type: 'conversation.item.input_audio_transcription.delta', item_id: turn.itemId, content_index: 0, delta: text });
              streamed = true;
            },
          },
        ),
      );
      const transcript = result.segments.map((s) => s.text.trim()).filter(Boolean).join(' ');
      this.language = result.language ?? this.language;
      this.model = result.model ?? this.model;
      if (!streamed && transcript) {
        send({ type: 'conversation.item.input_audio_transcription.delta', item_id: turn.itemId, content_index: 0, delta: transcript });
      }
      send({
        type: 'conversation.item.input_audio_transcription.completed',
        item_id: turn.itemId,
        content_index: 0,
        transcript,
        usage: { type: 'duration', seconds: Math.round(seconds * 1000) / 1000 },
      });
      this.deps.onTurn?.(settings.engine.name);
      const start = turn.start / SESSION_RATE;
      if (transcript) {
        const words = result.segments.flatMap((s) => s.words ?? []).map((w) => ({ ...w, start: w.start + start, end: w.end + start }));
        this.done.push({ start, end: start + seconds, text: transcript, ...(words.length > 0 ? { words } : {}) });
      }
    } catch (error) {
      this.deps.onEngineError?.(error);
      const code = error instanceof EngineError ? error.code : 'engine_failed';
      const message = error instanceof Error ? error.message : 'The transcription failed';
      send({
        type: 'conversation.item.input_audio_transcription.failed',
        item_id: turn.itemId,
        content_index: 0,
        error: { type: 'server_error', code, message, param: null },
      });
    } finally {
      await rm(wavPath, { force: true });
    }
  }
}
