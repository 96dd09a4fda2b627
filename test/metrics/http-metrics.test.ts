import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { describeEachDatabase } from '../helpers/app.js';
import { audioForm, shortClip } from '../helpers/audio.js';
import { bearer, registerUser } from '../helpers/factory.js';
import { declared, METRICS_TOKEN, samples, scrape, valueOf } from './support.js';

const RATE_LIMIT_MAX = 25;
const DURATION = 'transcribo_http_request_duration_seconds_count';

describeEachDatabase(
  'GET /metrics on the main port (METRICS_TOKEN set)',
  (ctx) => {
    test('requests are labelled by route template, method and status; no user id or raw path anywhere', async () => {
      const { app } = ctx();
      const user = await registerUser(app, 'metrics');
      const missing = randomUUID();
      const found = await app.inject({ method: 'GET', url: `/api/v1/audio/${missing}`, headers: bearer(user.accessToken) });
      assert.equal(found.statusCode, 404);
      const unmatched = await app.inject({ method: 'GET', url: `/no/such/route/${user.userId}` });
      assert.equal(unmatched.statusCode, 404);

      const text = await scrape(app);
      assert.equal(valueOf(text, DURATION, { route: '/api/v1/audio/:id', method: 'GET', status_code: '404' }), 1);
      assert.equal(valueOf(text, DURATION, { route: '/api/v1/auth/register', method: 'POST', status_code: '201' }), 1);
      assert.equal(valueOf(text, DURATION, { route: 'unmatched', method: 'GET', status_code: '404' }), 1);
      for (const secret of [user.userId, missing, user.email, '/no/such/route']) {
        assert.ok(!text.includes(secret), `the scrape mentions ${secret}`);
      }
      // Every route label is a template or "unmatched", never a concrete path.
      for (const s of samples(text)) {
        if (s.labels.route) assert.match(s.labels.route, /^(unmatched|\/[\w/:.*-]*)$/, s.labels.route);
      }
      assert.ok(valueOf(text, 'nodejs_eventloop_lag_p99_seconds') !== undefined, 'event-loop metrics are exposed');
      assert.ok(valueOf(text, 'process_cpu_seconds_total') !== undefined, 'process metrics are exposed');
    });

    test('without the token, or with a wrong one: 401 problem+json with a Bearer challenge', async () => {
      const { app } = ctx();
      for (const headers of [{}, { authorization: 'Bearer wrong-token' }, { authorization: METRICS_TOKEN }]) {
        const res = await app.inject({ method: 'GET', url: '/metrics', headers });
        assert.equal(res.statusCode, 401, JSON.stringify(headers));
        assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
        assert.equal(res.json().code, 'unauthorized');
        assert.match(String(res.headers['www-authenticate']), /^Bearer/);
        assert.ok(!res.body.includes('transcribo_'), 'no metrics leak in the refusal');
      }
    });

    test('queue depth is read from the jobs table at scrape time', async () => {
      const { app } = ctx();
      const user = await registerUser(app, 'metrics-queue');
      assert.equal(valueOf(await scrape(app), 'transcribo_job_queue_depth', { type: 'transcription' }), 0);
      const upload = await app.inject({
        method: 'POST',
        url: '/api/v1/audio/upload',
        headers: bearer(user.accessToken),
        payload: audioForm(await readFile(shortClip().wavPath), 'clip.wav', { language: 'en' }),
      });
      assert.equal(upload.statusCode, 201, upload.body);
      // The queue's workers are not started in this suite: the job stays queued.
      const queued = await app.inject({ method: 'POST', url: `/api/v1/audio/${upload.json().id}/transcribe`, headers: bearer(user.accessToken) });
      assert.equal(queued.statusCode, 202, queued.body);
      const text = await scrape(app);
      assert.equal(valueOf(text, 'transcribo_job_queue_depth', { type: 'transcription' }), 1);
      assert.equal(valueOf(text, 'transcribo_job_queue_depth', { type: 'chat_completion' }), 0);
    });

    test('a 429 from the rate limiter counts in transcribo_rate_limit_rejections_total by route', async () => {
      const { app } = ctx();
      const user = await registerUser(app, 'metrics-limit');
      const before = valueOf(await scrape(app), 'transcribo_rate_limit_rejections_total', { route: '/api/v1/jobs/:id' }) ?? 0;
      let limited = 0;
      for (let i = 0; i <= RATE_LIMIT_MAX; i++) {
        const res = await app.inject({ method: 'GET', url: `/api/v1/jobs/${randomUUID()}`, headers: bearer(user.accessToken) });
        if (res.statusCode === 429) limited++;
      }
      assert.equal(limited, 1);
      // Scrapes are not limited: the counter is read after the allowance is spent.
      const text = await scrape(app);
      assert.equal(valueOf(text, 'transcribo_rate_limit_rejections_total', { route: '/api/v1/jobs/:id' }), before + 1);
      assert.equal(valueOf(text, DURATION, { route: '/api/v1/jobs/:id', method: 'GET', status_code: '429' }), 1);
    });

    test('the Grafana dashboard queries only metrics that a real scrape declares', async () => {
      const { app } = ctx();
      const text = await scrape(app);
      const types = declared(text);
      const dashboard = JSON.parse(await readFile(new URL('../../deploy/grafana/transcribo.json', import.meta.url), 'utf8'));
      const names = dashboardMetricNames(dashboard);
      assert.ok(names.size >= 15, `only ${names.size} metric names found in the dashboard`);
      const missing = [...names].filter((name) => !exists(name, types));
      assert.deepEqual(missing, [], `queried by the dashboard but not exposed: ${missing.join(', ')}`);
    });
  },
  { METRICS_TOKEN, RATE_LIMIT_MAX: String(RATE_LIMIT_MAX) },
);

describeEachDatabase('GET /metrics without METRICS_TOKEN', (ctx) => {
  test('is not served on the main port (404), and not in the OpenAPI document', async () => {
    const { app } = ctx();
    const res = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    assert.equal(res.statusCode, 404);
    const spec = await app.inject({ method: 'GET', url: '/openapi.json' });
    assert.ok(!Object.keys(spec.json().paths).includes('/metrics'));
  });
});

/** A declared metric, or a histogram's _bucket/_sum/_count series (a summary's _sum/_count). */
function exists(name: string, types: Map<string, string>): boolean {
  if (types.has(name)) return true;
  const series = /^(.*)_(bucket|sum|count)$/.exec(name);
  if (!series) return false;
  const type = types.get(series[1]!);
  return type === 'histogram' || (type === 'summary' && series[2] !== 'bucket');
}

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/** Metric names in a PromQL expression: what is left once strings, selectors, ranges, groupings and calls are removed. */
function promqlMetricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/[a-zA-Z_:][\w:]*\s*\(/g, '(')
    .replace(/\b\d[\w.]*/g, ' ');
  return [...bare.matchAll(/[a-zA-Z_:][\w:]*/g)].map((m) => m[0]).filter((w) => !PROMQL_WORDS.has(w.toLowerCase()));
}

function dashboardMetricNames(dashboard: unknown): Set<string> {
  const names = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      if (key === 'expr' && typeof value === 'string') promqlMetricNames(value).forEach((n) => names.add(n));
      else if ((key === 'query' || key === 'definition') && typeof value === 'string') {
        const variable = /label_values\(\s*([a-zA-Z_:][\w:]*)/.exec(value);
        if (variable) names.add(variable[1]!);
      } else visit(value);
    }
  };
  visit(dashboard);
  return names;
}
