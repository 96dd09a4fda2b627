/**
 * GET /v1/realtime driven by the official `openai` client (OpenAIRealtimeWS, always wss: the app
 * serves TLS with a self-signed certificate the client trusts), on the sphinx engine with the real
 * Silero VAD and a real database. Independent cases run side by side.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { librivoxClips } from '../helpers/audio.js';
import { bearer, registerUser, type TestUser } from '../helpers/factory.js';
import { rawPcm, RealtimeClient, silence, wer, type Received } from '../helpers/realtime.js';
import { waitUntil } from '../helpers/server-process.js';
import { makeSelfSignedCert, type SelfSignedCert } from '../helpers/tls.js';

const COMPLETED = 'conversation.item.input_audio_transcription.completed';
const clips = librivoxClips();
const clip = (suffix: string) => clips.find((c) => c.id.endsWith(suffix))!;
const SPHINX_EN = { type: 'transcription', audio: { input: { transcription: { model: 'sphinx', language: 'en' } } } };

interface Served {
  app: TestApp;
  port: number;
}

async function serve(cert: SelfSignedCert, env: Record<string, string> = {}): Promise<Served> {
  const app = await startTestApp('postgres', { TLS_CERT_FILE: cert.certFile, TLS_KEY_FILE: cert.keyFile, ...env });
  await app.app.listen({ host: '127.0.0.1', port: 0 });
  return { app, port: (app.app.server.address() as AddressInfo).port };
}

async function updated(client: RealtimeClient, session: object): Promise<Received> {
  const before = client.of('session.updated').length + client.of('error').length;
  client.rt.send({ type: 'session.update', session } as never);
  await client.waitFor('session.updated or error', () => client.of('session.updated').length + client.of('error').length > before);
  return client.events.at(-1)!;
}

/** Transcript of the whole clip by the engine itself, the baseline for the turns' WER. */
async function wholeFile(served: Served, wavPath: string, seconds: number): Promise<string> {
  const result = await served.app.app.runtime.engines
    .get('sphinx')
    .transcribe({ wavPath, durationSeconds: seconds }, { language: 'en', wordTimestamps: false, signal: AbortSignal.timeout(120_000) });
  return result.segments.map((s) => s.text).join(' ');
}

describe('GET /v1/realtime', { concurrency: true }, () => {
  let cert: SelfSignedCert;
  let main: Served;
  let limited: Served;

  before(async () => {
    cert = makeSelfSignedCert();
    [main, limited] = await Promise.all([
      serve(cert),
      serve(cert, { REALTIME_MAX_SESSIONS_PER_USER: '2', REALTIME_IDLE_TIMEOUT_SECONDS: '2', REALTIME_MAX_BUFFERED_SECONDS: '4' }),
    ]);
  });
  after(async () => {
    await Promise.all([main?.app.close(), limited?.app.close()]);
  });

  test('session.created names the recording the session will be stored as; with store off, none', async () => {
    const user = await registerUser(main.app.app, 'announce');
    const client = await RealtimeClient.open(main.port, user.accessToken, cert.cert);
    await client.waitFor('session.created', () => client.of('session.created').length === 1);
    const created = client.of('session.created')[0]!.session as { store: boolean; recording_id: string | null };
    assert.equal(created.store, true);
    assert.match(created.recording_id ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const off = (await updated(client, { ...SPHINX_EN, store: false })).session as { store: boolean; recording_id: string | null };
    assert.deepEqual([off.store, off.recording_id], [false, null]);
    const on = (await updated(client, { ...SPHINX_EN, store: true })).session as { recording_id: string | null };
    assert.equal(on.recording_id, created.recording_id, 'the same recording to come');
    await client.close();
  });

  test('server VAD at real-time pace: a turn per utterance, WER near the engine on the whole files, stored with its times', async () => {
    const user = await registerUser(main.app.app, 'vad');
    const first = clip('0880');
    const second = clip('0930');
    // 0.5 s silence, clip, 1.2 s silence, clip, 1.5 s silence: each stretch's place on the stream's clock.
    const parts = [silence(0.5), rawPcm(first.wavPath), silence(1.2), rawPcm(second.wavPath), silence(1.5)];
    const spans: { start: number; end: number }[] = [];
    let at = 0;
    for (const [i, part] of parts.entries()) {
      const seconds = part.length / 48_000;
      if (i === 1 || i === 3) spans.push({ start: at, end: at + seconds });
      at += seconds;
    }
    const client = await RealtimeClient.open(main.port, user.accessToken, cert.cert, 'intent=transcription');
    await client.waitFor('session.created', () => client.of('session.created').length === 1);
    const created = client.of('session.created')[0]!.session as { audio: { input: { turn_detection: unknown; format: unknown } } };
    assert.deepEqual(created.audio.input.turn_detection, { type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 500 });
    assert.deepEqual(created.audio.input.format, { type: 'audio/pcm', rate: 24000 });
    assert.equal((await updated(client, SPHINX_EN)).type, 'session.updated');

    const [baseline] = await Promise.all([
      Promise.all([wholeFile(main, first.wavPath, 3), wholeFile(main, second.wavPath, 3.3)]).then((t) => t.join(' ')),
      client.stream(Buffer.concat(parts), { realtime: true }),
    ]);
    await client.waitFor('every committed turn completed', () => {
      const committed = client.of('input_audio_buffer.committed').length;
      return committed >= 2 && client.of(COMPLETED).length + client.of('conversation.item.input_audio_transcription.failed').length === committed;
    });

    const started = client.of('input_audio_buffer.speech_started').map((e) => (e.audio_start_ms as number) / 1000);
    const stopped = client.of('input_audio_buffer.speech_stopped').map((e) => (e.audio_end_ms as number) / 1000);
    assert.equal(started.length, stopped.length);
    for (const span of spans) {
      assert.ok(started.some((s) => s >= span.start - 0.1 && s <= span.start + 1), `no speech_started near ${span.start}: ${started.join(', ')}`);
      assert.ok(stopped.some((s) => s >= span.end - 1.5 && s <= span.end + 0.2), `no speech_stopped near ${span.end}: ${stopped.join(', ')}`);
    }
    // Nothing starts in the silences between and after the clips.
    assert.ok(started.every((s) => spans.some((span) => s >= span.start - 0.1 && s <= span.end)), `speech found in silence: ${started.join(', ')}`);
    // Each turn's committed event names the one before it.
    const committed = client.of('input_audio_buffer.committed');
    committed.forEach((e, i) => assert.equal(e.previous_item_id, i === 0 ? null : committed[i - 1]!.item_id));

    const completed = client.of(COMPLETED);
    for (const event of completed) {
      assert.equal((event.usage as { type: string }).type, 'duration');
      assert.equal(event.content_index, 0);
    }
    const transcript = completed.map((e) => e.transcript as string).join(' ');
    const reference = `${first.reference} ${second.reference}`;
    const turnsWer = wer(reference, transcript);
    const wholeWer = wer(reference, baseline);
    assert.ok(turnsWer <= wholeWer + 5, `turns WER ${turnsWer.toFixed(1)} vs whole files ${wholeWer.toFixed(1)}: "${transcript}" / "${baseline}"`);

    await client.close();
    const stored = await storedTranscription(main, user, client);
    assert.equal(stored.segments.length, completed.filter((e) => (e.transcript as string).length > 0).length);
    stored.segments.forEach((segment, i) => {
      assert.equal(segment.text.trim(), (completed[i]!.transcript as string).trim());
      // A turn starts at the speech onset minus the prefix padding, and ends past the stop.
      assert.ok(segment.start <= started[i]! + 0.01 && segment.start >= started[i]! - 0.35, `segment ${i} starts at ${segment.start}, speech at ${started[i]}`);
      assert.ok(segment.end >= stopped[i]! - 0.01, `segment ${i} ends at ${segment.end}, speech stopped at ${stopped[i]}`);
    });
  });

  test('silence yields no turn', async () => {
    const user = await registerUser(main.app.app, 'quiet');
    const client = await RealtimeClient.open(main.port, user.accessToken, cert.cert);
    await updated(client, SPHINX_EN);
    await client.stream(silence(4), { realtime: false });
    // Events are handled in order: once this update is answered, all the audio has been through the VAD.
    await updated(client, SPHINX_EN);
    assert.deepEqual(client.of('input_audio_buffer.speech_started'), []);
    assert.deepEqual(client.of('input_audio_buffer.committed'), []);
    await client.close();
  });

  test('manual commits with turn_detection null, in G.711 μ-law; bad events get OpenAI error events', async () => {
    const user = await registerUser(main.app.app, 'manual');
    const client = await RealtimeClient.open(main.port, user.accessToken, cert.cert);
    const manual = { type: 'transcription', audio: { input: { format: { type: 'audio/pcmu' }, turn_detection: null, transcription: { model: 'sphinx', language: 'en' } } } };
    const answer = await updated(client, manual);
    assert.equal(answer.type, 'session.updated', JSON.stringify(answer));
    assert.equal((answer.session as { audio: { input: { turn_detection: unknown } } }).audio.input.turn_detection, null);

    // Empty buffer: OpenAI's code.
    client.rt.send({ type: 'input_audio_buffer.commit', event_id: 'evt_empty' });
    const speech = rawPcm(clip('0880').wavPath, 8_000, 'mulaw');
    await client.stream(speech, { realtime: false, bytesPerSecond: 8_000 });
    client.rt.send({ type: 'input_audio_buffer.commit' });
    await client.waitFor('the committed turn', () => client.of(COMPLETED).length === 1);
    assert.equal(client.of('input_audio_buffer.speech_started').length, 0);
    const text = client.of(COMPLETED)[0]!.transcript as string;
    assert.ok(wer(clip('0880').reference, text) <= 40, text);

    client.rt.socket.send('{not json');
    client.rt.send({ type: 'response.create' } as never);
    client.rt.send({ type: 'session.update', event_id: 'evt_bad', session: { type: 'transcription', audio: { input: { turn_detection: { type: 'server_vad', threshold: 7 } } } } } as never);
    client.rt.send({ type: 'session.update', session: { type: 'transcription', audio: { input: { format: { type: 'audio/pcm' } } } } } as never);
    await client.waitFor('five errors', () => client.of('error').length === 5);
    const errors = client.of('error').map((e) => e.error as { type: string; code: string; param: string | null; event_id: string | null });
    assert.deepEqual(
      errors.map((e) => e.code),
      ['input_audio_buffer_commit_empty', 'invalid_json', 'unknown_event', 'invalid_value', 'invalid_value'],
    );
    assert.equal(errors[0]!.event_id, 'evt_empty');
    assert.equal(errors[3]!.event_id, 'evt_bad');
    assert.equal(errors[3]!.param, 'session.audio.input.turn_detection.threshold');
    assert.ok(errors.every((e) => e.type === 'invalid_request_error'));
    // Still serving after all that.
    assert.equal((await updated(client, SPHINX_EN)).type, 'session.updated');
    await client.close();
    assert.equal(client.closed?.code, 1000);
  });

  test('refused before the upgrade: no credential is a 401, a session over the per-user limit a 429', async () => {
    await assert.rejects(RealtimeClient.open(limited.port, 'not-a-token', cert.cert), /HTTP 401/);
    const user = await registerUser(limited.app.app, 'many');
    const open = await Promise.all([1, 2].map(() => RealtimeClient.open(limited.port, user.accessToken, cert.cert)));
    await assert.rejects(RealtimeClient.open(limited.port, user.accessToken, cert.cert), /HTTP 429/);
    await open[0]!.close();
    // Its slot is free again.
    const again = await waitUntil('a slot after a close', () => RealtimeClient.open(limited.port, user.accessToken, cert.cert).catch(() => null), 10_000);
    await Promise.all([again.close(), open[1]!.close()]);
  });

  test("a browser's handshake: the credential as a subprotocol, and only `realtime` echoed", async () => {
    const user = await registerUser(limited.app.app, 'browser');
    const probe = await RealtimeClient.open(limited.port, user.accessToken, cert.cert);
    // The `ws` class the official client runs on, as a browser's WebSocket(url, protocols).
    type Socket = { protocol: string; once(event: string, listener: (...args: unknown[]) => void): void; close(): void };
    const WebSocket = probe.rt.socket.constructor as new (url: string, protocols: string[], options: { ca: string }) => Socket;
    await probe.close();
    const socket = new WebSocket(`wss://127.0.0.1:${limited.port}/v1/realtime?intent=transcription`, ['realtime', `openai-insecure-api-key.${user.accessToken}`], {
      ca: cert.cert,
    });
    const created = await new Promise<string>((resolve, reject) => {
      socket.once('message', (data) => resolve(String(data)));
      socket.once('error', reject);
    });
    assert.equal(socket.protocol, 'realtime');
    assert.equal((JSON.parse(created) as { type: string }).type, 'session.created');
    socket.close();
  });

  test('an idle socket is closed with its reason', async () => {
    const user = await registerUser(limited.app.app, 'idle');
    const client = await RealtimeClient.open(limited.port, user.accessToken, cert.cert);
    await waitUntil('the idle close', () => client.closed, 15_000);
    assert.equal(client.closed?.code, 1000);
    assert.equal(client.closed?.reason, 'idle timeout');
    assert.equal((client.of('error')[0]?.error as { code: string }).code, 'idle_timeout');
  });

  test('a client faster than real time is told, and the audio waiting for the engine stays bounded', async () => {
    // The audio is made before the session opens: this server closes a session idle for 2 s.
    const speech = Buffer.concat(clips.flatMap((c) => [rawPcm(c.wavPath), silence(0.8)]));
    const sentSeconds = speech.length / 48_000;
    const user = await registerUser(limited.app.app, 'fast');
    const client = await RealtimeClient.open(limited.port, user.accessToken, cert.cert);
    await updated(client, SPHINX_EN);
    await client.stream(speech, { realtime: false });
    await client.waitFor('the backlog error', () => client.of('error').length > 0, 30_000);
    const error = client.of('error')[0]!.error as { type: string; code: string };
    assert.deepEqual([error.type, error.code], ['server_error', 'transcription_backlog']);
    // The turns that were kept all complete, and the session goes on.
    await client.waitFor('kept turns completed', () => client.of(COMPLETED).length === client.of('input_audio_buffer.committed').length && client.of(COMPLETED).length > 0);
    const transcribed = client.of(COMPLETED).reduce((sum, e) => sum + (e.usage as { seconds: number }).seconds, 0);
    assert.ok(transcribed < sentSeconds - 4, `${transcribed} s of ${sentSeconds} s went to the engine`);
    await client.close();
    const stored = await storedRecording(limited, user, client);
    assert.ok(stored.duration < sentSeconds - 4, `stored ${stored.duration} s of ${sentSeconds} s: the dropped audio is not kept either`);
  });
});

describe('GET /v1/realtime limits of one session', { concurrency: true }, () => {
  let cert: SelfSignedCert;
  let short: Served;

  before(async () => {
    cert = makeSelfSignedCert();
    // 100 ms of 24 kHz PCM is 6.4 KB once in base64 JSON: 16 KiB lets it through and stops 1 s chunks.
    short = await serve(cert, { REALTIME_MAX_SECONDS: '10', REALTIME_MAX_MESSAGE_BYTES: '16384' });
  });
  after(async () => {
    await short?.app.close();
  });

  test('a message over REALTIME_MAX_MESSAGE_BYTES closes the socket with 1009', async () => {
    const user = await registerUser(short.app.app, 'big');
    const client = await RealtimeClient.open(short.port, user.accessToken, cert.cert);
    client.append(silence(1));
    await waitUntil('the close', () => client.closed, 15_000);
    assert.equal(client.closed?.code, 1009);
  });

  test('audio past REALTIME_MAX_SECONDS ends the session: session_expired, a normal close, and what came before is stored', async () => {
    const user = await registerUser(short.app.app, 'long');
    const client = await RealtimeClient.open(short.port, user.accessToken, cert.cert);
    await updated(client, { ...SPHINX_EN, audio: { input: { ...SPHINX_EN.audio.input, turn_detection: null } } });
    // Faster than real time, with no turns: only the session's audio clock can stop it.
    await client.stream(silence(11), { realtime: false });
    await waitUntil('the close', () => client.closed, 30_000);
    assert.equal(client.closed?.code, 1000);
    assert.equal((client.of('error').at(-1)?.error as { code: string } | undefined)?.code, 'session_expired');
    const stored = await storedRecording(short, user, client);
    assert.ok(stored.duration > 9 && stored.duration <= 10.05, `stored ${stored.duration} s`);
  });
});

/** The recording a session was stored as: the id its session.created announced, once it answers. */
async function storedRecording(served: Served, user: TestUser, client: RealtimeClient): Promise<{ id: string; duration: number }> {
  const announced = (client.of('session.created')[0]?.session as { recording_id?: string } | undefined)?.recording_id;
  assert.match(announced ?? '', /^[0-9a-f-]{36}$/, 'session.created names the recording to come');
  const recording = await waitUntil('the stored session', async () => {
    const res = await served.app.app.inject({ url: `/api/v1/audio/${announced}`, headers: bearer(user.accessToken) });
    return res.statusCode === 200 ? res.json<{ id: string; source: string; duration_seconds: number | null }>() : null;
  });
  assert.equal(recording.source, 'realtime');
  const list = await served.app.app.inject({ url: '/api/v1/audio', headers: bearer(user.accessToken) });
  assert.deepEqual(list.json<{ items: { id: string }[] }>().items.map((r) => r.id), [announced], 'one recording, the announced one');
  return { id: recording.id, duration: recording.duration_seconds ?? 0 };
}

async function storedTranscription(served: Served, user: TestUser, client: RealtimeClient): Promise<{ segments: { start: number; end: number; text: string }[] }> {
  const recording = await storedRecording(served, user, client);
  const res = await served.app.app.inject({ url: `/api/v1/audio/${recording.id}/transcription`, headers: bearer(user.accessToken) });
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
}
