/**
 * Accessibility of the console's main screens in chromium against a real server: axe-core's WCAG
 * 2.x A/AA rules, in the light and the dark colour scheme, on log in, register, the recordings list
 * and its search results, a text transcript with speakers and its chat, summary, speakers and
 * versions panels open, an audio transcript with its player, account, admin and live; no serious
 * or critical violation anywhere. And the keyboard: Tab walks the list screen in
 * document order through the upload form, the search box and the recordings, and Enter on a
 * recording opens it. A fake OpenAI-compatible LLM on 127.0.0.1 gives the chat and summary
 * something to show. Outside CI the suite skips where chromium is missing.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { shortClip } from '../helpers/audio.js';
import { axeCheck, describeViolations, type AxeViolation } from '../helpers/console-axe.js';
import { chromiumMissing, consoleAuth, consoleWithFakeLlm, createStandup, noSummaryYet, playerReady, registerInConsole, uploadAndTranscribe, watchPage } from '../helpers/console-browser.js';
import { endOpenaiStream, json, openaiChunk, openaiCompletion, sse, startSse, type Received } from '../helpers/fake-llm.js';

const EMAIL = 'a11y@example.com';

/** An answer citing the first segment: streamed for chat, one JSON object for a summary. */
function answer(request: Received, res: ServerResponse): void {
  if (request.body.response_format) {
    const summary = { summary: 'A stand-up [1].', key_points: [{ text: 'Shipping on Friday', segments: [1] }], action_items: [{ owner: 'Luis', text: 'Write the notes', segments: [2] }], language: 'en' };
    json(res, 200, openaiCompletion(JSON.stringify(summary), { prompt_tokens: 30, completion_tokens: 20 }));
    return;
  }
  startSse(res);
  sse(res, null, openaiChunk({ role: 'assistant', content: 'They ship on Friday [1].' }));
  endOpenaiStream(res, { prompt_tokens: 30, completion_tokens: 9 });
}

const suite = consoleWithFakeLlm('a11y', answer, { ADMIN_EMAILS: EMAIL });

/** What the focus-order probe sees of the page (tests compile for Node, without the DOM library). */
interface FocusElement {
  tagName: string;
  getAttribute(name: string): string | null;
  closest(selector: string): FocusElement | null;
}
interface FocusGlobals {
  document: { activeElement: FocusElement | null; querySelectorAll(selector: string): ArrayLike<FocusElement> };
}

interface Focused {
  /** Position in document order (among all elements). */
  order: number;
  tag: string;
  type: string | null;
  href: string | null;
  /** The upload panel, the search form, or the section's heading id. */
  region: string | null;
}

async function focused(page: Page): Promise<Focused> {
  return page.evaluate(() => {
    const { document } = globalThis as unknown as FocusGlobals;
    const el = document.activeElement;
    if (!el) return { order: -1, tag: '', type: null, href: null, region: null };
    return {
      order: Array.prototype.indexOf.call(document.querySelectorAll('*'), el),
      tag: el.tagName.toLowerCase(),
      type: el.getAttribute('type'),
      href: el.getAttribute('href'),
      region: el.closest('[role="search"]') ? 'search' : (el.closest('section[aria-labelledby]')?.getAttribute('aria-labelledby') ?? null),
    };
  });
}

test('the main screens have no serious accessibility violations, and the list works from the keyboard', { skip: chromiumMissing }, async () => {
  assert.ok(suite.browser);
  const { server, context } = suite.browser;
  const page = context.pages()[0] ?? (await context.newPage());
  try {
    await walkScreens(page, server.base);
  } finally {
    await suite.closeBrowser();
  }
});

async function walkScreens(page: Page, base: string): Promise<void> {
  const problems = watchPage(page, base, noSummaryYet);
  page.setDefaultTimeout(20_000);
  const minor: string[] = [];
  const serious: string[] = [];
  // Each screen in both colour schemes: the console follows the system's (color-scheme: light dark).
  const check = async (screen: string) => {
    for (const colorScheme of ['dark', 'light'] as const) {
      await page.emulateMedia({ colorScheme });
      const report = await axeCheck(page);
      const list = (violations: AxeViolation[]) => (violations.length ? `${screen} (${colorScheme}):\n${describeViolations(violations)}` : null);
      const bad = list(report.serious);
      const other = list(report.other);
      if (bad) serious.push(bad);
      if (other) minor.push(other);
    }
  };

  await page.goto(`${base}/`);
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
  await check('log in');
  await page.getByRole('button', { name: 'No account yet? Create one' }).click();
  await page.getByRole('heading', { name: 'Create account' }).waitFor();
  await check('register');
  await registerInConsole(page, base, EMAIL);

  // Through the API with the console's own token: a short clip transcribed by sphinx meanwhile
  // (its view has the player, a highlighted segment and marked words), and a text transcript with speakers.
  const auth = await consoleAuth(page);
  const { id: clipId, transcribed } = await uploadAndTranscribe(base, auth, shortClip().wavPath, 'clip.wav', 'Clip');
  // The text last, so that it heads the list.
  await createStandup(base, auth);

  // The keyboard, from a fresh load of the list: every Tab moves forward in document order.
  // A reload, not a hash change: the list was already loaded, before the upload.
  await page.reload();
  await page.getByRole('link', { name: 'Standup' }).waitFor();
  await check('recordings list');
  const stops: Focused[] = [];
  for (let i = 0; i < 60 && !stops.at(-1)?.href?.startsWith('#/recordings/'); i++) {
    await page.keyboard.press('Tab');
    stops.push(await focused(page));
  }
  const walk = JSON.stringify(stops);
  for (let i = 1; i < stops.length; i++) assert.ok(stops[i]!.order > stops[i - 1]!.order, `focus went backwards at stop ${i}: ${walk}`);
  const upload = stops.findIndex((s) => s.region === 'upload-heading' && s.type === 'file');
  const search = stops.findIndex((s) => s.region === 'search' && s.type === 'search');
  const recording = stops.findIndex((s) => s.region === 'list-heading' && s.href?.startsWith('#/recordings/'));
  assert.ok(upload >= 0 && search > upload && recording > search, `upload file ${upload}, search ${search}, recording ${recording}: ${walk}`);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Standup' }).waitFor();

  // The transcript, its chat answered with a citation, and every panel open.
  await page.locator('.segment .speaker', { hasText: 'Ana' }).waitFor();
  await page.getByLabel('Question').fill('When do they ship?');
  await page.getByRole('button', { name: 'Ask', exact: true }).click();
  await page.locator('.answer[data-done="true"] .cite').first().waitFor();
  await page.getByText('Summary', { exact: true }).click();
  await page.getByRole('button', { name: 'Summarise' }).click();
  await page.locator('.key-points li', { hasText: 'Shipping on Friday' }).waitFor();
  await page.getByText('Speakers', { exact: true }).click();
  await page.getByLabel('New name for Ana').waitFor();
  await page.getByText('Versions', { exact: true }).click();
  await page.getByText('Version 1').waitFor();
  await check('transcript with chat, summary, speakers and versions');

  // The clip: the player, the segment playing highlighted, low-confidence words marked.
  assert.equal(await transcribed, 'completed');
  await page.goto(`${base}/#/recordings/${clipId}`);
  await playerReady(page);
  await page.locator('.segment button.time').first().click();
  await page.locator('.segment.current').waitFor();
  await check('audio transcript with the player');

  // Search results on the list screen.
  await page.getByRole('link', { name: 'Back to recordings' }).click();
  await page.getByLabel('Search transcripts').fill('Friday');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.locator('.hits mark', { hasText: 'Friday' }).waitFor();
  await check('search results');

  await page.getByRole('link', { name: 'Account' }).click();
  await page.getByText('No API keys yet.').waitFor();
  await check('account');

  await page.getByRole('link', { name: 'Admin' }).click();
  await page.getByLabel(`Role of ${EMAIL}`).waitFor();
  await page.locator('[data-field="sphinx"]').waitFor();
  await check('admin');

  await page.getByRole('link', { name: 'Live' }).click();
  await page.getByRole('heading', { name: 'Live transcription' }).waitFor();
  await check('live');

  if (minor.length) console.log(`moderate and minor accessibility findings (not failed):\n${minor.join('\n')}`);
  assert.deepEqual(serious, [], serious.join('\n'));
  assert.deepEqual(problems, []);
}
