import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { postWebhook } from '../../src/webhooks/post.js';
import { assertDeliverableUrl } from '../../src/webhooks/url-guard.js';

let received = 0;
const server = createServer((req, res) => {
  received += 1;
  req.resume();
  req.on('end', () => res.writeHead(204).end());
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as AddressInfo).port;
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

// A name only our resolver knows: a request that reaches the receiver used it to connect.
const url = new URL(`http://hooks.rebind.test:${port}/hook`);
const post = { headers: { 'content-type': 'application/json' }, body: '{}', timeoutMs: 2_000 };

test('the connection resolves through the guarded resolver (private allowed here)', async () => {
  const before = received;
  const status = await postWebhook(url, { ...post, allowPrivate: true, resolve: async () => ['127.0.0.1'] });
  assert.equal(status, 204);
  assert.equal(received, before + 1);
});

test('DNS rebinding: public when checked, loopback when connecting: refused before any byte is sent', async () => {
  const answers = [['93.184.216.34'], ['127.0.0.1']];
  const resolve = async () => answers.shift() ?? ['127.0.0.1'];
  const before = received;
  await assertDeliverableUrl(url.toString(), { allowPrivate: false, resolve });
  await assert.rejects(
    postWebhook(url, { ...post, allowPrivate: false, resolve }),
    /hooks\.rebind\.test resolved to a loopback address \(127\.0\.0\.1\) at connection time/,
  );
  assert.equal(received, before, 'the receiver saw nothing');
});

test('a name with one public and one private address is refused as a whole', async () => {
  await assert.rejects(
    postWebhook(url, { ...post, allowPrivate: false, resolve: async () => ['93.184.216.34', '10.0.0.7'] }),
    /private address \(10\.0\.0\.7\)/,
  );
});
