import assert from 'node:assert/strict';
import { afterEach, describe, mock, test } from 'node:test';
import { SignJWT } from 'jose';
import { AccessTokens } from '../../src/auth/access-tokens.js';
import { AppError } from '../../src/http/errors.js';

/*
 * AccessTokens remembers tokens it verified until they expire (src/auth/access-tokens.ts). The
 * memory must answer exactly as a fresh check would: the same user until `exp`, refused after it,
 * and nothing for any other text, however close to a remembered token.
 */

const USER = '0190c8a1-0000-7000-8000-000000000001';
const SESSION = '0190c8a1-0000-7000-8000-0000000000a1';
const CLAIMS = { userId: USER, sessionId: SESSION };
const config = {
  secretKey: 'k'.repeat(40),
  algorithm: 'HS256' as const,
  accessTokenExpireMinutes: 1,
  jwtIssuer: 'transcribo',
  jwtAudience: 'transcribo',
};

function code(expected: string) {
  return (error: unknown) => error instanceof AppError && error.code === expected;
}

describe('verified access tokens', () => {
  afterEach(() => mock.timers.reset());

  test('a remembered token stops being accepted when it expires', async () => {
    const tokens = new AccessTokens(config);
    const { token } = await tokens.issue(CLAIMS);
    assert.deepEqual(await tokens.verify(token), CLAIMS);
    assert.deepEqual(await tokens.verify(token), CLAIMS);
    mock.timers.enable({ apis: ['Date'], now: Date.now() + 61_000 });
    await assert.rejects(tokens.verify(token), code('token_expired'));
  });

  test('only the exact text of a verified token is remembered', async () => {
    const tokens = new AccessTokens(config);
    const { token } = await tokens.issue(CLAIMS);
    await tokens.verify(token);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const flipped = `${signature.slice(0, -2)}${signature.at(-2) === 'A' ? 'B' : 'A'}${signature.at(-1)}`;
    for (const other of [`${header}.${payload}.${flipped}`, token.slice(0, -1), `${header}.${payload}.`]) {
      await assert.rejects(tokens.verify(other), code('invalid_token'), other);
    }
  });

  test('a token of another key is not accepted because a look-alike was', async () => {
    const mine = new AccessTokens(config);
    const theirs = new AccessTokens({ ...config, secretKey: 'x'.repeat(40) });
    const { token } = await theirs.issue(CLAIMS);
    await assert.rejects(mine.verify(token), code('invalid_token'));
    assert.deepEqual(await theirs.verify(token), CLAIMS);
    await assert.rejects(mine.verify(token), code('invalid_token'));
  });

  test('an admin-session token is not an access token, remembered or not', async () => {
    const tokens = new AccessTokens(config);
    const { token } = await tokens.issueFor('admin_session', USER, 60);
    assert.deepEqual(await tokens.verifyFor('admin_session', token), { userId: USER });
    await assert.rejects(tokens.verify(token), code('invalid_token'));
  });

  test('an access token without a session id (one that could not be revoked) is refused', async () => {
    const tokens = new AccessTokens(config);
    const key = new TextEncoder().encode(config.secretKey);
    const now = Math.floor(Date.now() / 1000);
    const build = (claims: Record<string, string>) =>
      new SignJWT({ typ: 'access', ...claims })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(USER)
        .setIssuer('transcribo')
        .setAudience('transcribo')
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .sign(key);
    await assert.rejects(tokens.verify(await build({})), code('invalid_token'));
    await assert.rejects(tokens.verify(await build({ sid: 'not-a-uuid' })), code('invalid_token'));
    assert.deepEqual(await tokens.verify(await build({ sid: SESSION })), CLAIMS);
  });

  test('the same claims and issue time sign the same token (a refresh answered twice)', async () => {
    const tokens = new AccessTokens(config);
    const at = { issuedAtMs: Date.now() - 5_000, tokenId: '0190c8a1-0000-7000-8000-0000000000b1' };
    const first = await tokens.issue(CLAIMS, at);
    const again = await tokens.issue(CLAIMS, at);
    assert.equal(again.token, first.token);
    assert.notEqual((await tokens.issue(CLAIMS)).token, first.token);
  });
});
