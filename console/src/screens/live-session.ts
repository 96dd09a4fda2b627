import { api } from '../api/client';
import { base64, stored } from './live-support';
import workletUrl from '../worklets/pcm-capture.ts?worker&url';

/** One turn as the page shows it: deltas while it is transcribed, then the final text. */
export interface Caption {
  id: string;
  text: string;
  state: 'partial' | 'final' | 'failed';
}

export type LivePhase = 'starting' | 'live' | 'stopping' | 'storing' | 'stored' | 'notStored' | 'failed';

/** A problem to show: a message key of the screen's, or the server's own words. */
export type LiveProblem =
  | { kind: 'micDenied' | 'noMic' | 'micFailed' | 'secret' }
  | { kind: 'closed'; code: number; reason: string }
  | { kind: 'server'; message: string };

export interface LiveState {
  phase: LivePhase;
  captions: Caption[];
  speaking: boolean;
  seconds: number;
  problems: LiveProblem[];
  recordingId: string | null;
}

interface ServerEvent {
  type: string;
  item_id?: string;
  delta?: string;
  transcript?: string;
  error?: { message?: string; code?: string | null };
  /** session.created / session.updated: `recording_id` is the id the stored session will have. */
  session?: { recording_id?: string | null };
}

/** How long Stop waits for the turns still being transcribed before closing anyway. */
const DRAIN_MS = 60_000;
/** How long the page waits for the stored recording after the socket closed. */
const FIND_MS = 30_000;

/**
 * A live session from the microphone: a client secret minted with the page's bearer token, the
 * realtime socket (OpenAI's protocol, server VAD turns), 24 kHz PCM16 from an AudioWorklet sent
 * every 100 ms. Stop commits speech in progress, waits for its captions, then closes; the server
 * stores the session as a recording (source realtime) when the socket closes, under the
 * `recording_id` that session.created announced, and the page links it once it is stored.
 */
export class LiveSession {
  private state: LiveState = { phase: 'starting', captions: [], speaking: false, seconds: 0, problems: [], recordingId: null };
  private socket: WebSocket | null = null;
  private stream: MediaStream | null = null;
  private audio: AudioContext | null = null;
  private node: AudioWorkletNode | null = null;
  private flushed: (() => void) | null = null;
  /** Turns committed and not yet transcribed. */
  private readonly pending = new Set<string>();
  /** A commit was sent and neither its `committed` nor an `error` has come back. */
  private committing = false;
  /** Checked after every server event: what stop() waits for. */
  private readonly waiters = new Set<() => void>();
  private closing = false;
  private disposed = false;
  /** Announced by the server in session.created: what the session will be stored as. */
  private announced: string | null = null;
  private opened = false;
  /** Audio captured before the socket opened, sent once it has. */
  private readonly queue: ArrayBuffer[] = [];

  constructor(
    private readonly onChange: (state: LiveState) => void,
    private readonly language: string,
  ) {}

  private set(change: Partial<LiveState>): void {
    this.state = { ...this.state, ...change };
    if (!this.disposed) this.onChange(this.state);
  }

  private problem(problem: LiveProblem): void {
    this.set({ problems: [...this.state.problems, problem] });
  }

  async start(): Promise<void> {
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1 } });
    } catch (error) {
      const name = error instanceof DOMException ? error.name : '';
      this.problem({ kind: name === 'NotAllowedError' ? 'micDenied' : name === 'NotFoundError' ? 'noMic' : 'micFailed' });
      return this.set({ phase: 'failed' });
    }
    let secret: string;
    try {
      const transcription = this.language ? { language: this.language } : {};
      const minted = await api.POST('/v1/realtime/client_secrets', {
        body: { session: { type: 'transcription', audio: { input: { transcription } } } },
      });
      if (!minted.data) {
        // OpenAI's error shape, as every realtime route answers.
        const message = (minted.error as { error?: { message?: string } } | undefined)?.error?.message;
        this.problem(message ? { kind: 'server', message } : { kind: 'secret' });
        return this.fail();
      }
      secret = minted.data.value;
    } catch {
      this.problem({ kind: 'secret' });
      return this.fail();
    }
    try {
      await this.capture();
    } catch (error) {
      console.warn('could not capture the microphone', error);
      this.problem({ kind: 'micFailed' });
      return this.fail();
    }
    // Left the screen meanwhile: nothing is opened.
    if (this.disposed) return this.release();
    this.connect(secret);
  }

  private fail(): void {
    this.release();
    this.set({ phase: 'failed' });
  }

  /** The microphone into the worklet; chunks wait in `queue` until the socket is open. */
  private async capture(): Promise<void> {
    const stream = this.stream!;
    let context = new AudioContext({ sampleRate: 24_000 });
    let source: MediaStreamAudioSourceNode;
    try {
      source = context.createMediaStreamSource(stream);
    } catch {
      // A browser that cannot resample a stream into a 24 kHz context: the worklet resamples instead.
      await context.close();
      context = new AudioContext();
      source = context.createMediaStreamSource(stream);
    }
    this.audio = context;
    await context.audioWorklet.addModule(workletUrl);
    const node = new AudioWorkletNode(context, 'pcm-capture', { numberOfInputs: 1, numberOfOutputs: 0, channelCount: 1, channelCountMode: 'explicit' });
    node.port.onmessage = (event: MessageEvent<ArrayBuffer | null>) => {
      if (event.data === null) return this.flushed?.();
      this.set({ seconds: this.state.seconds + event.data.byteLength / 2 / 24_000 });
      if (this.socket?.readyState === WebSocket.OPEN) this.send(event.data);
      else this.queue.push(event.data);
    };
    source.connect(node);
    this.node = node;
    if (context.state === 'suspended') await context.resume();
  }

  private send(pcm: ArrayBuffer): void {
    this.socket?.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: base64(new Uint8Array(pcm)) }));
  }

  private connect(secret: string): void {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    // Browsers cannot set headers on a WebSocket: the client secret travels as a subprotocol, as OpenAI's do.
    const socket = new WebSocket(`${scheme}//${location.host}/v1/realtime?intent=transcription`, ['realtime', `openai-insecure-api-key.${secret}`]);
    this.socket = socket;
    socket.onopen = () => {
      this.opened = true;
      for (const chunk of this.queue.splice(0)) this.send(chunk);
      this.set({ phase: 'live' });
    };
    socket.onmessage = (message: MessageEvent<string>) => this.receive(JSON.parse(message.data) as ServerEvent);
    socket.onclose = (event) => void this.closed(event);
  }

  private receive(event: ServerEvent): void {
    this.handle(event);
    for (const check of this.waiters) check();
  }

  private handle(event: ServerEvent): void {
    const id = event.item_id;
    switch (event.type) {
      case 'session.created':
      case 'session.updated':
        this.announced = event.session?.recording_id ?? null;
        return;
      case 'input_audio_buffer.speech_started':
        return this.set({ speaking: true });
      case 'input_audio_buffer.speech_stopped':
        return this.set({ speaking: false });
      case 'input_audio_buffer.committed':
        this.committing = false;
        if (id) this.pending.add(id);
        return;
      case 'conversation.item.input_audio_transcription.delta':
        if (id) this.caption(id, (c) => ({ ...c, text: c.text + (event.delta ?? '') }));
        return;
      case 'conversation.item.input_audio_transcription.completed':
        if (id) this.caption(id, (c) => ({ ...c, text: (event.transcript ?? c.text).trim(), state: 'final' }));
        if (id) this.pending.delete(id);
        return;
      case 'conversation.item.input_audio_transcription.failed':
        if (id) this.caption(id, (c) => ({ ...c, state: 'failed' }));
        if (event.error?.message) this.problem({ kind: 'server', message: event.error.message });
        if (id) this.pending.delete(id);
        return;
      case 'error':
        // A commit with too little audio is answered with an error: nothing is left to wait for.
        this.committing = false;
        return this.problem({ kind: 'server', message: event.error?.message ?? event.error?.code ?? 'error' });
    }
  }

  private caption(id: string, change: (caption: Caption) => Caption): void {
    const captions = [...this.state.captions];
    const at = captions.findIndex((c) => c.id === id);
    if (at === -1) captions.push(change({ id, text: '', state: 'partial' }));
    else captions[at] = change(captions[at]!);
    this.set({ captions });
  }

  /** Resolves once `done()` holds after some server event (or now), or after `ms`, or when the socket closes. */
  private until(done: () => boolean, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const check = () => {
        if (done() || this.socket?.readyState !== WebSocket.OPEN) finish();
      };
      const timer = setTimeout(finish, ms);
      this.waiters.add(check);
      check();
    });
  }

  /** Stops the microphone, commits speech in progress, waits for its captions, then closes the socket. */
  async stop(): Promise<void> {
    if (this.state.phase !== 'live') return;
    this.set({ phase: 'stopping' });
    if (this.node) {
      const flushed = new Promise<void>((resolve) => (this.flushed = resolve));
      this.node.port.postMessage('flush');
      await Promise.race([flushed, new Promise((resolve) => setTimeout(resolve, 1_000))]);
    }
    this.release();
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    // Under server VAD a commit is only needed for speech the detector has not seen end.
    if (this.state.speaking) {
      this.committing = true;
      socket.send(JSON.stringify({ type: 'input_audio_buffer.commit' }));
      this.set({ speaking: false });
    }
    // Closing now would lose the last captions (the server would still store them): wait for them first.
    await this.until(() => !this.committing && this.pending.size === 0, DRAIN_MS);
    this.closing = true;
    socket.close(1000, 'done');
  }

  /** Frees the microphone and the audio graph (the socket is the caller's). */
  release(): void {
    this.node?.port.close();
    this.node?.disconnect();
    this.node = null;
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
    void this.audio?.close().catch(() => undefined);
    this.audio = null;
  }

  /** Leaving the screen: no more state changes, nothing left open. */
  dispose(): void {
    this.disposed = true;
    this.release();
    this.closing = true;
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) this.socket.close(1000, 'left the page');
  }

  private async closed(event: CloseEvent): Promise<void> {
    for (const check of this.waiters) check();
    this.release();
    if (!this.closing) this.problem({ kind: 'closed', code: event.code, reason: event.reason });
    // Refused before the upgrade (too many sessions, say): there is no session to store.
    if (!this.opened) return this.set({ phase: 'failed', speaking: false });
    this.set({ phase: 'storing', speaking: false });
    // The server stores the session once the socket has closed, under the id it announced.
    const announced = this.announced;
    const until = performance.now() + FIND_MS;
    while (announced && performance.now() < until && !this.disposed) {
      if (await stored(announced)) return this.set({ phase: 'stored', recordingId: announced });
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    this.set({ phase: 'notStored' });
  }
}
