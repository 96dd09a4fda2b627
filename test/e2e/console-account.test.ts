/**
 * The console's account and admin screens in chromium against a real server in BullMQ mode (Redis
 * under a key prefix of its own), the account an admin through ADMIN_EMAILS: create an API key
 * (shown once, listed, revoked), create a webhook (its secret shown once), see the account listed
 * as admin with the server's status, and open bull-board from the console, with no curl step and
 * no request to another origin (bull-board's page asks Google for fonts unless we stop it).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { chromiumMissing, openConsole, registerInConsole, watchPage, type ConsoleBrowser } from '../helpers/console-browser.js';
import { redisSkipReason, TEST_REDIS_URL, testQueues } from '../helpers/redis.js';

const EMAIL = 'console-admin@example.com';
const skip = chromiumMissing || redisSkipReason();
const redis = testQueues();
let browser: ConsoleBrowser | undefined;

before(async () => {
  if (skip) return;
  browser = await openConsole('account', {
    ADMIN_EMAILS: EMAIL,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_PREFIX: redis.prefix,
    // The webhook below points at this machine; nothing is delivered to it in this test.
    WEBHOOK_ALLOW_PRIVATE: 'true',
  });
});

after(async () => {
  await browser?.close();
  await redis.cleanup();
});

/** The value of the "shown once" field, then dismissed. */
async function takeShownOnce(page: Page, label: string): Promise<string> {
  const field = page.getByLabel(label);
  await field.waitFor();
  const value = await field.inputValue();
  await page.getByRole('button', { name: 'Done' }).click();
  await field.waitFor({ state: 'detached' });
  return value;
}

test('API keys, webhooks, users, status and the queue dashboard from the console', { skip }, async () => {
  assert.ok(browser);
  const { server, context } = browser;
  const page = context.pages()[0] ?? (await context.newPage());
  const problems = watchPage(page, server.base);
  // Every page of the profile, the dashboard's tab included: no request leaves the server.
  const elsewhere: string[] = [];
  context.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(server.base) && !url.startsWith('blob:') && !url.startsWith('data:')) elsewhere.push(url);
  });
  page.setDefaultTimeout(20_000);
  page.on('dialog', (dialog) => void dialog.accept());

  await registerInConsole(page, server.base, EMAIL);

  // API key: shown once, listed by its prefix, works as a bearer, then revoked.
  await page.getByRole('link', { name: 'Account' }).click();
  await page.getByLabel('Name').fill('ci script');
  await page.getByRole('button', { name: 'Create key' }).click();
  const key = await takeShownOnce(page, 'Your new API key');
  assert.ok(key.length > 20, key);
  const row = page.getByRole('row', { name: /ci script/ });
  await row.waitFor();
  const prefix = (await row.locator('code').innerText()).replace('…', '');
  assert.ok(key.startsWith(prefix), `${key} starts with ${prefix}`);
  const me = (token: string) => fetch(`${server.base}/api/v1/auth/me`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal((await me(key)).status, 200);
  await row.getByRole('button', { name: 'Revoke ci script' }).click();
  await row.waitFor({ state: 'detached' });
  await page.getByText('No API keys yet.').waitFor();
  assert.equal((await me(key)).status, 401, 'a revoked key is refused');

  // Webhook: the secret is shown once; the list shows it, with no deliveries yet.
  await page.getByLabel('URL').fill('http://127.0.0.1:9/hook');
  await page.getByRole('checkbox', { name: 'summary.completed' }).check();
  await page.getByRole('button', { name: 'Create webhook' }).click();
  assert.match(await takeShownOnce(page, 'Signing secret of the new webhook'), /^whsec_/);
  const hook = page.locator('.webhooks li', { hasText: 'http://127.0.0.1:9/hook' });
  await hook.getByText('transcription.completed, summary.completed').waitFor();
  await hook.getByText('Deliveries').click();
  await hook.getByText('No deliveries yet.').waitFor();

  // Admin: the account is listed as admin; the status shows sphinx available and BullMQ.
  await page.getByRole('link', { name: 'Admin' }).click();
  assert.equal(await page.getByLabel(`Role of ${EMAIL}`).inputValue(), 'admin');
  await page.locator('[data-field="default-engine"]', { hasText: 'sphinx' }).waitFor();
  await page.locator('[data-field="sphinx"]', { hasText: 'available' }).waitFor();
  assert.doesNotMatch(await page.locator('[data-field="sphinx"]').innerText(), /not available/);
  await page.getByText('Jobs run through Redis (BullMQ).').waitFor();

  // The dashboard opens in a new tab with the session cookie the console asked for.
  const [dashboard] = await Promise.all([context.waitForEvent('page'), page.getByRole('button', { name: 'Open queue dashboard' }).click()]);
  const dashboardProblems = watchPage(dashboard, server.base);
  await dashboard.waitForURL(`${server.base}/admin/queues/**`);
  await dashboard.getByText('Transcribo jobs').first().waitFor();
  await dashboard.getByText('jobs', { exact: true }).first().waitFor();
  const googleLinks = await dashboard.locator('link[href*="fonts.googleapis.com"]').count();
  await dashboard.close();

  assert.deepEqual(elsewhere, []);
  assert.equal(googleLinks, 0);
  assert.deepEqual(problems, []);
  assert.deepEqual(dashboardProblems, []);
});
