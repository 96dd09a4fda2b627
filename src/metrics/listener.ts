import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { METRICS_CHALLENGE, METRICS_PATH } from './http.js';
import type { Metrics } from './metrics.js';
import { bearerMatches } from './token.js';

export interface MetricsListenerOptions {
  host: string;
  port: number;
  /** When set, required here too; unset, the port itself is the boundary (keep it off public networks). */
  token: string | null;
  metrics: Metrics;
  log: { error(obj: object, msg: string): void };
}

export interface MetricsListener {
  port: number;
  close(): Promise<void>;
}

function answer(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(body);
}

async function handle(options: MetricsListenerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '').split('?')[0];
  if (path !== METRICS_PATH) return answer(res, 404, 'Not found: this port serves only /metrics\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') return answer(res, 405, 'Method not allowed\n', { allow: 'GET, HEAD' });
  if (options.token !== null && !bearerMatches(req.headers.authorization, options.token)) {
    return answer(res, 401, 'A valid METRICS_TOKEN bearer token is required\n', METRICS_CHALLENGE);
  }
  const text = await options.metrics.scrape();
  res.writeHead(200, { 'content-type': options.metrics.contentType, 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : text);
}

/**
 * A small HTTP listener that serves only /metrics: how a worker process, which has no HTTP
 * server, is scraped; the API may open one too, to keep metrics off its public port.
 */
export async function startMetricsListener(options: MetricsListenerOptions): Promise<MetricsListener> {
  const server = createServer((req, res) => {
    handle(options, req, res).catch((error: unknown) => {
      options.log.error({ err: error }, 'metrics scrape failed');
      if (!res.headersSent) answer(res, 500, 'Metrics could not be collected\n');
      else res.destroy();
    });
  });
  // A scraper has no reason to be slow; an idle or dribbling client should not hold a socket.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
