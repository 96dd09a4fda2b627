/** A chat client that walks away from a streamed answer, as a closed browser tab would. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { App } from '../../src/app.js';
import { bearer, type TestUser } from './factory.js';
import { within, type FakeServer } from './fake-llm.js';

/**
 * Puts `app` on a port (light-my-request cannot hang up), asks it for a streamed answer as `user`,
 * hangs up at the first bytes, and resolves once the request the app made to `llm` for it was
 * aborted in turn. `ms` bounds the wait for those first bytes and for the abort.
 */
export async function hangUpMidStream(app: App, user: TestUser, llm: FakeServer, ms: { firstBytes: number; aborted: number }): Promise<void> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const before = llm.requests.length;
  await new Promise<void>((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: 'POST', path: '/api/v1/chat/completion', headers: { ...bearer(user.accessToken), 'content-type': 'application/json' } },
      (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      },
    );
    req.on('error', () => undefined);
    req.end(JSON.stringify({ message: 'Talk for a while', stream: true }));
    setTimeout(() => reject(new Error('no data')), ms.firstBytes).unref();
  });
  await llm.received(before + 1);
  await within(llm.requests[before]!.closedEarly, ms.aborted, 'the provider request to be aborted');
}
