import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppError } from '../../src/http/errors.js';
import { assertDeliverableUrl, blockedReason } from '../../src/webhooks/url-guard.js';

async function refused(url: string, reason: RegExp, resolve?: (host: string) => Promise<string[]>): Promise<void> {
  await assert.rejects(assertDeliverableUrl(url, { allowPrivate: false, resolve }), (error: unknown) => {
    assert.ok(error instanceof AppError, String(error));
    assert.equal(error.code, 'validation_failed');
    assert.equal(error.status, 422);
    assert.match(error.message, reason);
    return true;
  });
}

test('refuses loopback, private, link-local, unspecified and CGNAT addresses, naming the reason', async () => {
  await refused('http://127.0.0.1/hook', /loopback/);
  await refused('http://127.8.9.10:8080/hook', /loopback/);
  await refused('https://10.0.0.1/hook', /private/);
  await refused('http://172.20.1.1/hook', /private/);
  await refused('http://192.168.1.10/hook', /private/);
  await refused('http://169.254.169.254/latest/meta-data', /link-local/);
  await refused('http://100.64.0.1/hook', /carrier-grade NAT/);
  await refused('http://0.0.0.0/hook', /unspecified/);
  await refused('http://[::1]/hook', /loopback/);
  await refused('http://[::]/hook', /unspecified/);
  await refused('http://[fd00::1]/hook', /private/);
  await refused('http://[fe80::1]/hook', /link-local/);
  await refused('http://[::ffff:127.0.0.1]/hook', /loopback/);
});

test('resolves hostnames and refuses one that points at loopback (localhost) or anywhere private', async () => {
  await refused('http://localhost:3000/hook', /loopback/);
  await refused('https://rebind.example/hook', /private/, async () => ['93.184.216.34', '10.1.2.3']);
  await refused('https://nowhere.invalid/hook', /does not resolve/, async () => {
    throw new Error('ENOTFOUND');
  });
});

test('refuses non-http schemes and URLs with credentials, even with allowPrivate', async () => {
  for (const url of ['ftp://example.com/x', 'file:///etc/passwd', 'gopher://example.com', 'javascript:alert(1)', 'not a url']) {
    await assert.rejects(assertDeliverableUrl(url, { allowPrivate: true }), /must use http or https|not a valid URL/);
  }
  await assert.rejects(assertDeliverableUrl('https://user:pw@example.com/', { allowPrivate: true }), /credentials/);
});

test('allowPrivate lets every private target through; public addresses always pass', async () => {
  for (const url of [
    'http://127.0.0.1/hook',
    'http://10.0.0.1/hook',
    'http://169.254.169.254/',
    'http://[::1]:8080/hook',
    'http://localhost:3000/hook',
  ]) {
    const parsed = await assertDeliverableUrl(url, { allowPrivate: true });
    assert.equal(parsed.href, new URL(url).href);
  }
  await assertDeliverableUrl('https://hooks.example.com/x', { allowPrivate: false, resolve: async () => ['93.184.216.34', '2606:2800:220:1::1'] });
  await assertDeliverableUrl('https://8.8.8.8/x', { allowPrivate: false });
  assert.equal(blockedReason('8.8.8.8'), null);
  assert.equal(blockedReason('172.32.0.1'), null, 'just outside 172.16/12');
  assert.equal(blockedReason('100.128.0.1'), null, 'just outside 100.64/10');
});
