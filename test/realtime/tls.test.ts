import assert from 'node:assert/strict';
import { chmodSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig, type Env } from '../../src/config.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { makeSelfSignedCert, type SelfSignedCert } from '../helpers/tls.js';

function get(url: string, options: https.RequestOptions = {}): Promise<{ status: number; body: string }> {
  const client = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.get(url, { ...options, timeout: 10_000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', reject);
  });
}

function configProblems(env: Env): string[] {
  try {
    loadConfig({ SECRET_KEY: 'k'.repeat(40), ...env }, { persistSecret: false });
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  assert.fail('loadConfig accepted the environment');
}

describe('TLS_CERT_FILE / TLS_KEY_FILE', () => {
  let cert: SelfSignedCert;
  let served: TestApp | undefined;
  let port = 0;

  before(async () => {
    cert = makeSelfSignedCert();
    served = await startTestApp('postgres', { TLS_CERT_FILE: cert.certFile, TLS_KEY_FILE: cert.keyFile });
    await served.app.listen({ host: '127.0.0.1', port: 0 });
    port = (served.app.server.address() as AddressInfo).port;
  });
  after(async () => {
    await served?.close();
  });

  test('the API port answers HTTPS to a client trusting the certificate, and refuses plain HTTP', async () => {
    const ready = await get(`https://127.0.0.1:${port}/api/v1/health/readiness`, { ca: cert.cert });
    assert.equal(ready.status, 200, ready.body);
    await assert.rejects(get(`https://127.0.0.1:${port}/api/v1/health/readiness`), /self-signed|certificate/i);
    const plain = await get(`http://127.0.0.1:${port}/api/v1/health/readiness`).catch((error: Error) => error);
    assert.ok(plain instanceof Error, `plain HTTP was answered: ${JSON.stringify(plain)}`);
  });

  test('config: defaults, both or neither, readable, bounds', () => {
    const defaults = loadConfig({ SECRET_KEY: 'k'.repeat(40) }, { persistSecret: false });
    assert.equal(defaults.tls, null);
    assert.deepEqual(defaults.realtime, {
      maxSessionsPerUser: 4,
      maxSeconds: 3600,
      idleTimeoutSeconds: 60,
      maxMessageBytes: 15 * 1024 * 1024,
      maxBufferedSeconds: 30,
    });
    const both = loadConfig({ SECRET_KEY: 'k'.repeat(40), TLS_CERT_FILE: cert.certFile, TLS_KEY_FILE: cert.keyFile });
    assert.deepEqual(both.tls, { certFile: cert.certFile, keyFile: cert.keyFile });

    assert.match(configProblems({ TLS_CERT_FILE: cert.certFile }).join('\n'), /TLS_KEY_FILE must be set/);
    assert.match(configProblems({ TLS_KEY_FILE: cert.keyFile }).join('\n'), /TLS_CERT_FILE must be set/);
    const missing = configProblems({ TLS_CERT_FILE: cert.certFile, TLS_KEY_FILE: `${cert.keyFile}.missing` });
    assert.match(missing.join('\n'), /TLS_KEY_FILE ".*missing" cannot be read: ENOENT/);
    for (const [name, value] of [
      ['REALTIME_MAX_SESSIONS_PER_USER', '0'],
      ['REALTIME_MAX_SECONDS', '-1'],
      ['REALTIME_IDLE_TIMEOUT_SECONDS', 'soon'],
      ['REALTIME_MAX_MESSAGE_BYTES', '10'],
      ['REALTIME_MAX_BUFFERED_SECONDS', '0'],
    ] as const) {
      assert.match(configProblems({ [name]: value }).join('\n'), new RegExp(`^${name} must be an integer`), name);
    }
  });

  test('an unreadable key file is named (not root: root reads anything)', { skip: process.getuid?.() === 0 && 'running as root' }, () => {
    const other = makeSelfSignedCert();
    chmodSync(other.keyFile, 0o000);
    try {
      assert.match(configProblems({ TLS_CERT_FILE: other.certFile, TLS_KEY_FILE: other.keyFile }).join('\n'), /TLS_KEY_FILE .* EACCES/);
    } finally {
      rmSync(other.keyFile, { force: true });
    }
  });
});
