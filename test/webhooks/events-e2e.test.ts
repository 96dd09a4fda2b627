import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { after, test } from 'node:test';
import { verify } from '../../src/webhooks/signing.js';
import { describeEachDatabase } from '../helpers/app.js';
import { audioForm, shortClip } from '../helpers/audio.js';
import { bearer, registerUser } from '../helpers/factory.js';

const received: { headers: IncomingHttpHeaders; body: string }[] = [];
const receiver = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8').on('data', (c: string) => (body += c));
  req.on('end', () => {
    received.push({ headers: req.headers, body });
    res.writeHead(204).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
after(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

describeEachDatabase(
  'webhooks fired by real work',
  (ctx) => {
    test('a finished transcription is delivered once, signed with the secret shown at creation', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const created = await app.inject({
        method: 'POST',
        url: '/api/v1/webhooks',
        headers: bearer(user.accessToken),
        payload: { url: hookUrl, events: ['transcription.completed'] },
      });
      assert.equal(created.statusCode, 201, created.body);
      const { id: webhookId, secret } = created.json();
      const up = await app.inject({
        method: 'POST',
        url: '/api/v1/audio/upload',
        headers: bearer(user.accessToken),
        payload: audioForm(await readFile(shortClip().wavPath), 'clip.wav'),
      });
      const done = await app.inject({ method: 'POST', url: `/api/v1/audio/${up.json().id}/transcribe?wait=60`, headers: bearer(user.accessToken) });
      assert.equal(done.json().status, 'completed');

      const before = received.length;
      await app.runtime.webhookDispatcher.tick();
      const mine = received.slice(before);
      assert.equal(mine.length, 1);
      const { headers, body } = mine[0]!;
      const payload = JSON.parse(body);
      assert.equal(payload.type, 'transcription.completed');
      assert.equal(payload.data.transcription_id, done.json().id);
      assert.ok(
        verify(secret, String(headers['webhook-id']), String(headers['webhook-timestamp']), body, String(headers['webhook-signature'])),
        'the signature verifies with the secret',
      );
      await app.runtime.webhookDispatcher.tick();
      assert.equal(received.length, before + 1, 'delivered once');
      const deliveries = await app.inject({ method: 'GET', url: `/api/v1/webhooks/${webhookId}/deliveries`, headers: bearer(user.accessToken) });
      assert.equal(deliveries.statusCode, 200, deliveries.body);
      const rows = deliveries.json().items ?? deliveries.json();
      assert.equal(rows[0].status, 'delivered');
      assert.equal(rows[0].last_status_code, 204);
    });
  },
  { WEBHOOK_ALLOW_PRIVATE: 'true' },
  { startQueue: true },
);
