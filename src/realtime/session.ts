/**
 * One realtime transcription session on one socket: client events in order, audio into the
 * session's recording, the input buffer and (with server_vad) the turn detector, committed turns to
 * the turn queue, and the bounds (session length, idle time, engine backlog). Ends once: pending
 * speech is committed, every turn is transcribed, `finish` (storing) runs, then the socket closes.
 */
import type { RealtimeConfig, SttConfig } from '../config.js';
import type { EngineSet } from '../transcription/engines/index.js';
import { AudioDecoder, msOf, SESSION_RATE } from './audio-format.js';
import { InputBuffer } from './input-buffer.js';
import { OrderedIntake } from './ordered-intake.js';
import { CLOSE, ending, errorEvent, newId, parseClientEvent, problems, type ClientEvent, type EndReason } from './protocol.js';
import type { RealtimeErrorDetails, ServerEvent } from './protocol.js';
import type { RecordingFile } from './recording-file.js';
import { canSendOptional, messageBytes, sendEvent, type RealtimeSocket } from './socket.js';
import { applyUpdate, describeSession, InvalidSession, type SessionSettings } from './session-config.js';
import { SpeechTurns } from './speech-turns.js';
import { TurnQueue, type TranscribedTurn } from './turn-queue.js';

export interface SessionSummary {
  settings: SessionSettings;
  seconds: number;
  turns: TranscribedTurn[];
  language: string | null;
  model: string | null;
}

export interface SessionDeps {
  socket: RealtimeSocket;
  settings: SessionSettings;
  stt: SttConfig;
  limits: RealtimeConfig;
  engines: EngineSet;
  recording: RecordingFile;
  /** What the stored recording's id will be (session.created's `recording_id`). */
  recordingId: string;
  dir: string;
  log: { warn(obj: object, msg: string): void };
  onTurn?: (engine: string) => void;
  /** Stores (or discards) the session; runs before the socket is closed. */
  finish: (summary: SessionSummary) => Promise<void>;
}

/** Incoming messages waiting their turn beyond this pause reading from the socket (TCP backpressure). */
const INTAKE_PAUSE_BYTES = 4 << 20;
/** Audio kept after a detected stop, so the engine hears the end of the last word. */
const TRAILING_MS = 200;
/** Before any speech, audio older than the prefix padding plus this is dropped. */
const DETECTOR_LAG_MS = 2_000;
const MIN_COMMIT_SAMPLES = SESSION_RATE / 10;

export class RealtimeSession {
  readonly id = newId('sess');
  private settings: SessionSettings;
  private decoder: AudioDecoder;
  private readonly speech = new SpeechTurns();
  private readonly buffer = new InputBuffer();
  private readonly turns: TurnQueue;
  private readonly aborter = new AbortController();
  private samplesIn = 0;
  private formatLocked = false;
  private lastItemId: string | null = null;
  private behind = false;
  private readonly intake: OrderedIntake;
  private ending: Promise<void> | null = null;
  private markEnded: () => void = () => undefined;
  /** Resolves once the session has ended (stored, socket closed), however it ended. */
  readonly ended = new Promise<void>((resolve) => (this.markEnded = resolve));
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly lengthTimer: NodeJS.Timeout;
  private readonly expiresAt: number;

  constructor(private readonly deps: SessionDeps) {
    this.settings = deps.settings;
    this.decoder = new AudioDecoder(this.settings.format);
    this.intake = new OrderedIntake(deps.socket, INTAKE_PAUSE_BYTES);
    this.expiresAt = Math.floor(Date.now() / 1000) + deps.limits.maxSeconds;
    this.turns = new TurnQueue({
      dir: deps.dir,
      send: (event) => this.send(event),
      canSendOptional: () => canSendOptional(deps.socket),
      signal: this.aborter.signal,
      onEngineError: (error) => deps.log.warn({ err: error }, 'realtime turn failed'),
      onTurn: deps.onTurn,
    });
    this.lengthTimer = setTimeout(() => void this.end(ending.expired()), deps.limits.maxSeconds * 1000);
    this.lengthTimer.unref();
  }

  /**
   * Starts listening: `early` are the messages that arrived while the session was being set up,
   * handled first. Sends session.created once the turn detector is ready; events are handled after.
   */
  start(early: [Buffer, boolean][] = []): void {
    const { socket } = this.deps;
    socket.on('message', (data, isBinary) => this.receive(messageBytes(data), isBinary));
    socket.on('close', () => void this.end({ code: CLOSE.normal, reason: 'client closed' }));
    this.intake.add(0, () =>
      this.speech.configure(this.settings.turnDetection, this.samplesIn).then(
        () => this.send({ type: 'session.created', session: describeSession(this.id, this.settings, this.expiresAt, this.deps.recordingId) }),
        (error: unknown) => {
          this.deps.log.warn({ err: error }, 'could not start the turn detector');
          void this.end({ code: CLOSE.internal, reason: 'voice activity detection unavailable' });
        },
      ),
    );
    for (const [data, isBinary] of early) this.receive(data, isBinary);
    this.touch();
    if (socket.readyState !== socket.OPEN) void this.end({ code: CLOSE.normal, reason: 'client closed' });
  }

  /** Ends the session (once); resolves when it is stored and the socket closed. */
  end(why: EndReason): Promise<void> {
    this.ending ??= this.finish(why).finally(() => this.markEnded());
    return this.ending;
  }

  /** Stops engine work at once (shutdown ran out of time). */
  abort(): void {
    this.aborter.abort();
  }

  private async finish(why: EndReason): Promise<void> {
    clearTimeout(this.lengthTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (why.error) this.send(errorEvent(why.error));
    await this.intake.idle();
    // What was being said when the session ended is a turn too.
    const speaking = this.speech.current;
    if (speaking) this.commit(speaking.itemId, speaking.onset - this.paddingSamples(), this.buffer.end);
    else if (!this.speech.enabled && this.buffer.size >= MIN_COMMIT_SAMPLES) {
      this.commit(newId('item'), 0, this.buffer.end);
    }
    await this.turns.idle();
    try {
      await this.deps.finish({
        settings: this.settings,
        seconds: this.samplesIn / SESSION_RATE,
        turns: this.turns.done,
        language: this.turns.language ?? this.settings.language,
        model: this.turns.model,
      });
    } finally {
      const { socket } = this.deps;
      const open = socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING;
      if (open) socket.close(why.code, why.reason);
    }
  }

  private receive(data: Buffer, isBinary: boolean): void {
    if (this.ending) return;
    this.touch();
    this.intake.add(data.length, async () => {
      if (this.ending) return;
      try {
        await this.handle(data, isBinary);
      } catch (error) {
        this.deps.log.warn({ err: error }, 'realtime event failed');
        this.sendError(problems.failed());
      }
    });
  }

  private async handle(data: Buffer, isBinary: boolean): Promise<void> {
    if (isBinary) {
      return this.sendError(problems.binary());
    }
    const parsed = parseClientEvent(data.toString('utf8'));
    if ('error' in parsed) return this.sendError(parsed.error);
    const { event } = parsed;
    switch (event.type) {
      case 'session.update':
        return this.update(event);
      case 'input_audio_buffer.append':
        return this.append(event);
      case 'input_audio_buffer.commit':
        return this.manualCommit(event);
      case 'input_audio_buffer.clear':
        this.buffer.clear();
        this.speech.reset();
        return this.send({ type: 'input_audio_buffer.cleared' });
      default:
        return this.sendError(problems.unknownEvent(event));
    }
  }

  private async update(event: ClientEvent): Promise<void> {
    let next: SessionSettings;
    try {
      next = applyUpdate(this.settings, event.session, this.deps.stt, this.formatLocked);
    } catch (error) {
      if (!(error instanceof InvalidSession)) throw error;
      return this.sendError(problems.invalidSession(error, event));
    }
    const vadChanged = JSON.stringify(next.turnDetection) !== JSON.stringify(this.settings.turnDetection);
    if (next.format !== this.settings.format) this.decoder = new AudioDecoder(next.format);
    this.settings = next;
    if (vadChanged) await this.speech.configure(this.settings.turnDetection, this.samplesIn);
    this.send({ type: 'session.updated', session: describeSession(this.id, this.settings, this.expiresAt, this.deps.recordingId) });
  }

  private async append(event: ClientEvent): Promise<void> {
    if (typeof event.audio !== 'string') {
      return this.sendError(problems.missingAudio(event));
    }
    this.formatLocked = true;
    const samples = this.decoder.decode(Buffer.from(event.audio, 'base64'));
    if (samples.length === 0) return;
    const { limits } = this.deps;
    if (this.samplesIn + samples.length > limits.maxSeconds * SESSION_RATE) {
      void this.end(ending.expired());
      return;
    }
    // Speech that goes on and on is cut into turns, so that it never waits on itself.
    if (this.buffer.seconds >= limits.maxBufferedSeconds / 2) this.cutSpeech();
    // Between utterances the buffer only keeps the padding a coming onset may need: that waits for nobody.
    const uncommitted = this.speech.enabled && !this.speech.current ? 0 : this.buffer.seconds;
    const waiting = this.turns.backlogSeconds + uncommitted + samples.length / SESSION_RATE;
    if (waiting > limits.maxBufferedSeconds) {
      if (!this.behind) {
        this.behind = true;
        this.sendError(problems.backlog(limits.maxBufferedSeconds, event));
      }
      return;
    }
    if (waiting < limits.maxBufferedSeconds / 2) this.behind = false;
    this.samplesIn += samples.length;
    this.deps.recording.append(samples);
    this.buffer.append(samples);
    for (const change of await this.speech.push(samples)) {
      const { itemId, onset } = change;
      if (change.type === 'started') {
        this.send({ type: 'input_audio_buffer.speech_started', audio_start_ms: msOf(onset), item_id: itemId });
        continue;
      }
      this.send({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: msOf(change.stop), item_id: itemId });
      this.commit(itemId, onset - this.paddingSamples(), change.stop + (TRAILING_MS * SESSION_RATE) / 1000);
    }
    if (this.speech.enabled && !this.speech.current) {
      this.buffer.dropBefore(this.samplesIn - this.paddingSamples() - (DETECTOR_LAG_MS * SESSION_RATE) / 1000);
    }
  }

  private cutSpeech(): void {
    const cut = this.speech.split(this.buffer.end);
    if (!cut) return;
    this.send({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: msOf(this.buffer.end), item_id: cut.itemId });
    this.commit(cut.itemId, cut.onset - this.paddingSamples(), this.buffer.end);
    this.send({ type: 'input_audio_buffer.speech_started', audio_start_ms: msOf(this.buffer.end), item_id: cut.next });
  }

  private manualCommit(event: ClientEvent): void {
    if (this.buffer.size < MIN_COMMIT_SAMPLES) {
      return this.sendError(problems.commitEmpty(this.buffer.seconds, event));
    }
    const itemId = this.speech.current?.itemId ?? newId('item');
    this.speech.reset();
    this.commit(itemId, 0, this.buffer.end);
  }

  private commit(itemId: string, from: number, to: number): void {
    const { start, samples } = this.buffer.take(from, to);
    if (samples.length === 0) return;
    this.send({ type: 'input_audio_buffer.committed', item_id: itemId, previous_item_id: this.lastItemId });
    this.lastItemId = itemId;
    const { choice, language, prompt } = this.settings;
    this.turns.add(
      { itemId, start, samples },
      {
        engine: this.deps.engines.get(choice.engine),
        ...(choice.model ? { model: choice.model } : {}),
        ...(language ? { language } : {}),
        ...(prompt ? { prompt } : {}),
      },
    );
  }

  private paddingSamples(): number {
    return Math.round(((this.settings.turnDetection?.prefix_padding_ms ?? 0) * SESSION_RATE) / 1000);
  }

  private touch(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const seconds = this.deps.limits.idleTimeoutSeconds;
    this.idleTimer = setTimeout(() => {
      // Turns still being transcribed are activity: the client is waiting for them, not gone.
      if (this.turns.backlogSeconds > 0) return this.touch();
      void this.end(ending.idle(seconds));
    }, seconds * 1000);
    this.idleTimer.unref();
  }

  private sendError(details: RealtimeErrorDetails): void {
    this.send(errorEvent(details));
  }

  private send(event: ServerEvent): void {
    sendEvent(this.deps.socket, event);
  }
}
