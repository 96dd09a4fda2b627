import { createServer } from 'node:http';
import { test } from 'node:test';
import { startTestApp } from '../helpers/app.js';
import { close, keyPair, listen, me, supabaseToken } from './supabase-fixture.js';
import { assertProblem, describeEachKind } from './support.js';

// Any key will do: no JWKS is ever had, so nothing is checked against it.
const rsa = await keyPair('RS256', 'rsa-key-1');

describeEachKind('auth: Supabase JWKS outage', (kind) => {
  test('an unreachable JWKS endpoint is 503 service_unavailable, never 500', async () => {
    // A port that was just free: nothing listens there.
    const probe = createServer();
    const url = await listen(probe);
    await close(probe);

    const ctx = await startTestApp(kind, { SUPABASE_URL: url });
    try {
      const token = await supabaseToken(rsa.privateKey, { alg: 'RS256', kid: 'rsa-key-1' }, { iss: `${url}/auth/v1` });
      const res = await me(ctx.app, token);
      assertProblem(res, 503, 'service_unavailable');
    } finally {
      await ctx.close();
    }
  });

  test('a JWKS endpoint answering 500 is 503 service_unavailable, not 401 invalid_token', async () => {
    const broken = createServer((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('upstream down');
    });
    const url = await listen(broken);
    const ctx = await startTestApp(kind, { SUPABASE_URL: url });
    try {
      const token = await supabaseToken(rsa.privateKey, { alg: 'RS256', kid: 'rsa-key-1' }, { iss: `${url}/auth/v1` });
      const res = await me(ctx.app, token);
      assertProblem(res, 503, 'service_unavailable');
    } finally {
      await ctx.close();
      await close(broken);
    }
  });
});
