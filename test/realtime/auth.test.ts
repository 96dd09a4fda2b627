import assert from 'node:assert/strict';
import { test } from 'node:test';
import { authenticateRealtime, realtimeAuthDeps } from '../../src/realtime/auth.js';
import { describeEachDatabase } from '../helpers/app.js';
import { bearer, registerUser } from '../helpers/factory.js';

const PROBE = '/test/realtime-auth';

interface Secret {
  value: string;
  expires_at: number;
  session: Record<string, unknown>;
}

describeEachDatabase(
  'realtime auth and POST /v1/realtime/client_secrets',
  (ctx) => {
    const probe = (headers: Record<string, string>) => ctx().app.inject({ url: PROBE, headers });
    const mint = (token: string, payload?: Record<string, unknown>) =>
      ctx().app.inject({ method: 'POST', url: '/v1/realtime/client_secrets', headers: bearer(token), ...(payload === undefined ? {} : { payload }) });

    test('access tokens, API keys and client secrets (Bearer or subprotocol) open a socket as their user', async () => {
      const { app } = ctx();
      const user = await registerUser(app, 'rt-auth');
      assert.deepEqual((await probe(bearer(user.accessToken))).json(), { userId: user.userId, session: null });

      const key = await app.inject({ method: 'POST', url: '/api/v1/auth/api-keys', headers: bearer(user.accessToken), payload: { name: 'live' } });
      assert.equal(key.statusCode, 201, key.body);
      assert.deepEqual((await probe(bearer(key.json<{ key: string }>().key))).json(), { userId: user.userId, session: null });

      const session = { type: 'transcription', audio: { input: { transcription: { model: 'sphinx', language: 'en' }, turn_detection: null } } };
      const before = Math.floor(Date.now() / 1000);
      const res = await mint(user.accessToken, { session });
      assert.equal(res.statusCode, 200, res.body);
      const secret = res.json<Secret>();
      assert.match(secret.value, /^ek_/);
      assert.ok(secret.expires_at >= before + 600 && secret.expires_at <= Math.ceil(Date.now() / 1000) + 600, 'default: 600 s');
      assert.equal(secret.session.type, 'transcription');
      assert.equal(secret.session.object, 'realtime.transcription_session');
      assert.match(String(secret.session.id), /^sess_/);
      assert.deepEqual(secret.session.audio, session.audio);

      const expected = { userId: user.userId, session };
      assert.deepEqual((await probe(bearer(secret.value))).json(), expected);
      const offered = `realtime, openai-insecure-api-key.${secret.value}, openai-beta.realtime-v1`;
      assert.deepEqual((await probe({ 'sec-websocket-protocol': offered })).json(), expected);

      // Minted with an API key too; and with no session, none is fixed.
      const byKey = await mint(key.json<{ key: string }>().key, {});
      assert.equal(byKey.statusCode, 200, byKey.body);
      assert.deepEqual((await probe(bearer(byKey.json<Secret>().value))).json(), { userId: user.userId, session: null });
    });

    test('a client secret opens nothing else, and bad or missing credentials are 401 with a challenge', async () => {
      const { app } = ctx();
      const user = await registerUser(app, 'rt-narrow');
      const secret = (await mint(user.accessToken)).json<Secret>().value;
      const elsewhere = await app.inject({ url: '/api/v1/audio', headers: bearer(secret) });
      assert.equal(elsewhere.statusCode, 401);
      const again = await mint(secret, {});
      assert.equal(again.statusCode, 401);
      assert.equal(again.json<{ error: { type: string } }>().error.type, 'authentication_error');

      for (const headers of [
        {} as Record<string, string>,
        { authorization: 'Basic abc' },
        bearer(`${secret.slice(0, -2)}xx`),
        bearer('ek_not-a-token'),
        { 'sec-websocket-protocol': 'realtime, openai-insecure-api-key.' },
        { 'sec-websocket-protocol': `realtime, openai-insecure-api-key.${secret.slice(0, -2)}xx` },
      ]) {
        const res = await probe(headers);
        assert.equal(res.statusCode, 401, JSON.stringify(headers));
        assert.match(String(res.headers['www-authenticate']), /^Bearer/);
      }
    });

    test('expires_after is honoured within bounds, capped by the access-token lifetime; bad requests are 400 in OpenAI shape', async () => {
      const { app } = ctx();
      const user = await registerUser(app, 'rt-mint');
      const now = () => Math.floor(Date.now() / 1000);
      const short = (await mint(user.accessToken, { expires_after: { anchor: 'created_at', seconds: 10 } })).json<Secret>();
      assert.ok(Math.abs(short.expires_at - (now() + 10)) <= 2, JSON.stringify(short));
      const long = (await mint(user.accessToken, { expires_after: { seconds: 7200 } })).json<Secret>();
      assert.ok(Math.abs(long.expires_at - (now() + 30 * 60)) <= 2, 'ACCESS_TOKEN_EXPIRE_MINUTES (30) caps it');

      for (const payload of [
        { expires_after: { seconds: 5 } },
        { expires_after: { seconds: 7201 } },
        { expires_after: { anchor: 'now', seconds: 60 } },
        { session: { type: 'realtime' } },
        { session: { type: 'transcription', audio: { input: { transcription: { prompt: 'x'.repeat(5000) } } } } },
      ]) {
        const res = await mint(user.accessToken, payload);
        assert.equal(res.statusCode, 400, `${JSON.stringify(payload).slice(0, 80)}: ${res.body}`);
        assert.equal(res.json<{ error: { type: string } }>().error.type, 'invalid_request_error');
      }
    });
  },
  {},
  {
    beforeReady: (app) => {
      const deps = realtimeAuthDeps(app.runtime.services.auth);
      app.get(PROBE, { config: { rateLimit: false } }, (request) => authenticateRealtime(request, deps));
    },
  },
);
