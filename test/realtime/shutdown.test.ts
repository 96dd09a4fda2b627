/**
 * SIGTERM mid-session on the built server (`node scripts/build.js --if-stale` first), serving WSS:
 * the session's last turn is transcribed and the session stored before its socket closes with 1001.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before, test } from 'node:test';
import { librivoxClips } from '../helpers/audio.js';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';
import { RealtimeClient, rawPcm, silence } from '../helpers/realtime.js';
import { freePort, SERVER_JS, spawnChild, tempDir, waitForExit, waitUntil } from '../helpers/server-process.js';
import { makeSelfSignedCert, type SelfSignedCert } from '../helpers/tls.js';

const COMPLETED = 'conversation.item.input_audio_transcription.completed';

function request(url: string, ca: string, body?: object): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: body ? 'POST' : 'GET', ca, headers: { 'content-type': 'application/json' }, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
    });
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

let testDb: TestDatabase;
let cert: SelfSignedCert;

before(async () => {
  testDb = await createTestDatabase();
  cert = makeSelfSignedCert();
});
after(async () => {
  await testDb?.drop();
});

test('SIGTERM mid-utterance: the last turn is transcribed and stored, then the socket closes with 1001', async () => {
  const port = await freePort();
  const server = spawnChild(
    [SERVER_JS],
    {
      DATABASE_URL: testDb.url,
      DATA_DIR: tempDir('realtime-sigterm'),
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      SECRET_KEY: 'realtime-shutdown-test-secret-that-is-long-enough',
      STT_ENGINE: 'sphinx',
      TLS_CERT_FILE: cert.certFile,
      TLS_KEY_FILE: cert.keyFile,
      SHUTDOWN_TIMEOUT_MS: '60000',
    },
    tempDir('realtime-sigterm-cwd'),
  );
  try {
    const base = `https://127.0.0.1:${port}`;
    await waitUntil('the server', () => request(`${base}/api/v1/health/liveness`, cert.cert).then((r) => r.status === 200, () => false), 120_000);
    const registered = await request(`${base}/api/v1/auth/register`, cert.cert, { email: 'live@example.com', password: 'correct horse battery' });
    assert.equal(registered.status, 201, JSON.stringify(registered.json));
    const token = registered.json.access_token as string;

    const client = await RealtimeClient.open(port, token, cert.cert);
    client.rt.send({ type: 'session.update', session: { type: 'transcription', audio: { input: { transcription: { model: 'sphinx', language: 'en' } } } } });
    const [first, second] = [librivoxClips().find((c) => c.id.endsWith('0880'))!, librivoxClips().find((c) => c.id.endsWith('0930'))!];
    await client.stream(Buffer.concat([silence(0.3), rawPcm(first.wavPath), silence(1.2), rawPcm(second.wavPath)]), { realtime: false });
    // The second utterance has started and not stopped (no silence after it) when the signal comes.
    await client.waitFor('speech in progress', (events) => events.filter((e) => e.type === 'input_audio_buffer.speech_started').length === 2);
    server.proc.kill('SIGTERM');

    await waitUntil('the close', () => client.closed, 60_000);
    assert.equal(client.closed?.code, 1001, JSON.stringify(client.closed));
    const completed = client.of(COMPLETED);
    assert.equal(completed.length, 2, JSON.stringify(client.events.map((e) => e.type)));
    assert.ok((client.of('error')[0]?.error as { code: string }).code === 'server_shutting_down');
    const exit = await waitForExit(server, 60_000);
    assert.equal(exit.code, 0, server.output());

    const rows = await testDb.database.pool.query<{ source: string; status: string; start: number; text: string }>(
      `select r.source, t.status, s.start_seconds as start, s.text from recordings r
         join transcriptions t on t.recording_id = r.id join transcript_segments s on s.transcription_id = t.id order by s.index`,
    );
    assert.deepEqual(rows.rows.map((r) => [r.source, r.status]), [['realtime', 'completed'], ['realtime', 'completed']]);
    assert.deepEqual(rows.rows.map((r) => r.text.trim()), completed.map((e) => (e.transcript as string).trim()));
    assert.ok(rows.rows[1]!.start > 3.5, `second turn at ${rows.rows[1]!.start} s`);
  } finally {
    if (server.proc.exitCode === null) server.proc.kill('SIGKILL');
  }
});
