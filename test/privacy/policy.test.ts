import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { isLocalProvider, shouldRedact, type RedactPiiMode } from '../../src/privacy/index.js';

test('isLocalProvider: localhost and literal loopback, private and link-local addresses', () => {
  const local = [
    'http://localhost:11434/v1',
    'http://LOCALHOST.:8080',
    'http://ollama.localhost/v1',
    'http://127.0.0.1:8000/v1',
    'http://127.8.9.10/v1',
    'http://[::1]:8080/v1',
    'http://10.1.2.3/v1',
    'http://172.16.0.5/v1',
    'http://192.168.1.20:1234/v1',
    'http://169.254.10.10/v1',
    'http://100.101.102.103/v1', // carrier-grade NAT (Tailscale and the like)
    'http://[fd12:3456::1]/v1',
    'http://[fe80::1]/v1',
    'http://[::ffff:192.168.0.1]/v1',
    'http://0.0.0.0:11434/v1',
  ];
  const cloud = [
    null, // the vendor's own endpoint
    '',
    'https://api.openai.com/v1',
    'https://api.anthropic.com',
    'http://8.8.8.8/v1',
    'http://[2001:db8::1]/v1',
    'http://ollama.internal:11434/v1', // a name: cloud, whatever it resolves to
    'http://localhost.example.com/v1',
    'http://172.32.0.1/v1', // just outside 172.16/12
    'not a url',
  ];
  for (const url of local) assert.equal(isLocalProvider(url), true, String(url));
  for (const url of cloud) assert.equal(isLocalProvider(url), false, String(url));
});

test('shouldRedact: mode × provider × the request\'s redact field', () => {
  const LOCAL = 'http://127.0.0.1:11434/v1';
  const CLOUD = 'https://api.openai.com/v1';
  const cases: [RedactPiiMode, string, boolean | undefined, boolean][] = [
    ['off', LOCAL, undefined, false],
    ['off', CLOUD, undefined, false],
    ['off', LOCAL, true, true],
    ['off', CLOUD, true, true],
    ['off', CLOUD, false, false],
    ['cloud', LOCAL, undefined, false],
    ['cloud', CLOUD, undefined, true],
    ['cloud', LOCAL, true, true],
    ['cloud', CLOUD, true, true],
    ['cloud', LOCAL, false, false],
    ['cloud', CLOUD, false, false],
    ['all', LOCAL, undefined, true],
    ['all', CLOUD, undefined, true],
    ['all', LOCAL, false, true], // a request cannot turn off what the server requires
    ['all', CLOUD, false, true],
    ['all', CLOUD, true, true],
  ];
  for (const [mode, url, requested, expected] of cases) {
    assert.equal(shouldRedact(mode, url, requested), expected, `${mode} ${url} ${String(requested)}`);
  }
  assert.equal(shouldRedact('cloud', null), true);
});

test('LLM_REDACT_PII: cloud by default, off | cloud | all, anything else stops start-up', () => {
  const secret = { SECRET_KEY: 'k'.repeat(40) };
  assert.equal(loadConfig(secret).llm.redactPii, 'cloud');
  assert.equal(loadConfig({ ...secret, LLM_REDACT_PII: 'ALL' }).llm.redactPii, 'all');
  assert.equal(loadConfig({ ...secret, LLM_REDACT_PII: 'off' }).llm.redactPii, 'off');
  assert.throws(() => loadConfig({ ...secret, LLM_REDACT_PII: 'yes' }), /LLM_REDACT_PII must be one of off, cloud, all/);
});
