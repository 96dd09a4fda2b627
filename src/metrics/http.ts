import type { FastifyInstance } from 'fastify';
import { AppError } from '../http/errors.js';
import type { Metrics } from './metrics.js';
import { bearerMatches } from './token.js';

export const METRICS_PATH = '/metrics';

/** The header a 401 from /metrics sends, on either listener. */
export const METRICS_CHALLENGE = { 'www-authenticate': 'Bearer realm="metrics"' };

/**
 * Times every request by its route template (request.routeOptions.url, never the raw path) and,
 * when METRICS_TOKEN is set, serves GET /metrics on the app's own port behind that bearer token.
 * Without a token the route does not exist here (404): metrics are then only on METRICS_PORT, or
 * nowhere. The route is an operator's, so it stays out of the OpenAPI document and the rate limit.
 */
export function registerHttpMetrics(app: FastifyInstance, metrics: Metrics | undefined, token: string | null): void {
  if (!metrics) return;
  app.addHook('onResponse', (request, reply, done) => {
    metrics.observeRequest(request.routeOptions.url, request.method, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
  if (token === null) return;
  app.get(METRICS_PATH, { schema: { hide: true }, config: { rateLimit: false } }, async (request, reply) => {
    if (!bearerMatches(request.headers.authorization, token)) {
      throw new AppError('unauthorized', 'A valid METRICS_TOKEN bearer token is required', undefined, METRICS_CHALLENGE);
    }
    return reply.type(metrics.contentType).send(await metrics.scrape());
  });
}
