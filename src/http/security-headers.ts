import Fastify, { type FastifyInstance } from 'fastify';
import helmet, { type FastifyHelmetOptions } from '@fastify/helmet';

/**
 * helmet's headers on every reply. @fastify/helmet builds a new helmet middleware on each request,
 * parsing every option (the CSP directives included) in two hooks, although the headers only
 * depend on the options. So @fastify/helmet itself is asked once, on a throwaway instance, what it
 * sets, and one plain hook sets that. No nonces or per-route options are used here, which is what
 * makes the headers the same for every request.
 */
export async function registerSecurityHeaders(app: FastifyInstance, options: FastifyHelmetOptions): Promise<void> {
  const headers = await helmetHeaders(options);
  app.addHook('onRequest', (_request, reply, done) => {
    void reply.headers(headers);
    done();
  });
}

/** The headers @fastify/helmet sets with these options, by name. */
export async function helmetHeaders(options: FastifyHelmetOptions): Promise<Record<string, string>> {
  const probe = Fastify({ logger: false });
  let seen: Record<string, string> = {};
  try {
    await probe.register(helmet, options);
    // Registered after helmet's hooks, so it sees what they set (helmet writes to the raw response).
    probe.addHook('onRequest', (_request, reply, done) => {
      seen = Object.fromEntries(Object.entries(reply.raw.getHeaders()).map(([name, value]) => [name, String(value)]));
      done();
    });
    probe.get('/', async () => '');
    await probe.inject({ method: 'GET', url: '/' });
  } finally {
    await probe.close();
  }
  if (Object.keys(seen).length === 0) throw new Error('@fastify/helmet set no headers: its API changed');
  return seen;
}
