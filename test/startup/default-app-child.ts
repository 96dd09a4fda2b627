/**
 * Run by lazy-modules.test.ts in a process of its own (a module, once loaded, stays loaded): records
 * every module the process resolves into the file named by argv[2], while it builds the app as a
 * default start does, starts its queue and answers a few requests. Both LLM providers are
 * configured (at an address nothing answers) to show that even then neither SDK loads before a
 * chat call.
 */
import { register } from 'node:module';

const out = process.argv[2];
if (!out) throw new Error('usage: default-app-child.ts <file to record resolved modules in>');

// Runs on the loader's own thread; appendFileSync keeps the record complete when the process ends.
const hook = `
import { appendFileSync } from 'node:fs';
let out;
export function initialize(data) { out = data.out; }
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(out, resolved.url + '\\n');
  return resolved;
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`, { data: { out } });

// Imported only now, so that the hook sees them and everything they load.
const { startTestApp } = await import('../helpers/app.js');
const test = await startTestApp(
  'postgres',
  {
    STT_ENGINE: 'whisper',
    OPENAI_API_KEY: 'sk-never-used',
    OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
    ANTHROPIC_API_KEY: 'sk-ant-never-used',
    ANTHROPIC_BASE_URL: 'http://127.0.0.1:9',
  },
  { startQueue: true },
);
try {
  const { app } = test;
  const registered = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/register',
    payload: { email: `lazy-${process.pid}@example.com`, password: 'correct horse battery' },
  });
  if (registered.statusCode !== 201) throw new Error(`register: ${registered.statusCode} ${registered.body}`);
  const authorization = `Bearer ${(registered.json<{ access_token: string }>()).access_token}`;
  for (const url of ['/api/v1/audio/', '/api/v1/chat/sessions', '/api/v1/health/readiness', '/openapi.json']) {
    const res = await app.inject({ method: 'GET', url, headers: { authorization } });
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`);
  }
} finally {
  await test.close();
}
