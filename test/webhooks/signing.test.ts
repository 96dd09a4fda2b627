import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { newSecret, sign, verify } from '../../src/webhooks/signing.js';

// The Standard Webhooks reference vector (standard-webhooks/standard-webhooks, libraries' tests).
const SPEC_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const SPEC_ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const SPEC_TS = 1614265330;
const SPEC_BODY = '{"test": 2432232314}';

test('sign() is HMAC-SHA256 over "id.timestamp.body" keyed with the base64-decoded secret', () => {
  const key = Buffer.from(SPEC_SECRET.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key).update(`${SPEC_ID}.${SPEC_TS}.${SPEC_BODY}`).digest('base64');
  assert.equal(sign(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY), `v1,${expected}`);
  assert.equal(sign(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY), 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
});

test('newSecret() is whsec_ + 32 random bytes in base64', () => {
  const a = newSecret();
  assert.match(a, /^whsec_[A-Za-z0-9+/]+=*$/);
  assert.equal(Buffer.from(a.slice(6), 'base64').length, 32);
  assert.notEqual(a, newSecret());
});

test('verify() accepts a valid signature among several and rejects tampering and stale timestamps', () => {
  const secret = newSecret();
  const ts = 1_700_000_000;
  const signature = sign(secret, 'msg_1', ts, '{"a":1}');
  const opts = { nowSeconds: ts + 10 };
  assert.equal(verify(secret, 'msg_1', ts, '{"a":1}', signature, opts), true);
  assert.equal(verify(secret, 'msg_1', String(ts), '{"a":1}', `v1,bm90IGl0 ${signature}`, opts), true);
  assert.equal(verify(secret, 'msg_1', ts, '{"a":2}', signature, opts), false, 'body changed');
  assert.equal(verify(secret, 'msg_2', ts, '{"a":1}', signature, opts), false, 'id changed');
  assert.equal(verify(newSecret(), 'msg_1', ts, '{"a":1}', signature, opts), false, 'other secret');
  assert.equal(verify(secret, 'msg_1', ts, '{"a":1}', signature, { nowSeconds: ts + 301 }), false, 'too old');
  assert.equal(verify(secret, 'msg_1', ts, '{"a":1}', signature.replace('v1,', 'v2,'), opts), false, 'other version');
});
