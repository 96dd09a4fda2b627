/**
 * The web console in a real browser (Debian's chromium, driven by playwright-core) against a real
 * server on the embedded default with the sphinx engine: register, upload a LibriVox clip, watch
 * it transcribe, seek the player from a segment and a word, edit a segment, find the edit with the
 * console's search, export it, revert it, have a stale token refreshed silently, and log out.
 * Outside CI the suite skips where chromium is not installed; in CI it fails.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { librivoxClips } from '../helpers/audio.js';
import { chromiumMissing, openConsole, playerAt, playerReady, registerInConsole, watchPage, type ConsoleBrowser } from '../helpers/console-browser.js';

let browser: ConsoleBrowser | undefined;

before(async () => {
  if (!chromiumMissing) browser = await openConsole('main');
});

after(() => browser?.close());

// A recording not yet transcribed has no transcription (404).
const notTranscribedYet = (status: number, url: string) => status === 404 && /\/api\/v1\/audio\/[^/]+\/transcription$/.test(url);

test('register, upload, transcribe, seek, edit and search in the console', { skip: chromiumMissing }, async () => {
  assert.ok(browser);
  const { server, context } = browser;
  const clip = librivoxClips().find((c) => c.id.endsWith('0920'))!;
  const page = context.pages()[0] ?? (await context.newPage());
  const problems = watchPage(page, server.base, notTranscribedYet);
  page.setDefaultTimeout(30_000);

  await registerInConsole(page, server.base, 'console@example.com');

  await page.getByLabel('Audio file').setInputFiles(clip.wavPath);
  await page.getByLabel('Title').fill('Austen 0920');
  await page.getByRole('button', { name: 'Upload', exact: true }).click();
  await page.getByRole('heading', { name: 'Austen 0920' }).waitFor();
  await page.getByLabel('Language (empty: detect)').fill('en');
  await page.getByRole('button', { name: 'Transcribe', exact: true }).click();
  await page.locator('.status[data-status="completed"]').waitFor({ timeout: 180_000 }); // sphinx on a busy machine

  // The transcript shows the clip's words (pocketsphinx gets most of them right).
  const shown = (await page.locator('.segment .text').allInnerTexts()).join(' ').toLowerCase();
  const reference = new Set(clip.reference.split(' '));
  const heard = shown.split(/\s+/).filter((word) => reference.has(word));
  assert.ok(new Set(heard).size / reference.size >= 0.5, `the console shows "${shown}"`);

  // The player is loaded from a blob; a word later in the clip seeks to its start, its segment's time back to the segment's.
  await playerReady(page);
  const player = page.locator('audio');
  const currentTime = () => player.evaluate((audio) => (audio as unknown as { currentTime: number }).currentTime);
  const words = page.locator('.segment .word');
  const lastWord = words.last();
  const wordStart = Number(await lastWord.getAttribute('data-start'));
  assert.ok(wordStart > 1, `the last word starts at ${wordStart}`);
  await lastWord.click();
  await playerAt(page, wordStart);
  const lastSegment = page.locator('.segment').last();
  const segmentStart = Number(await lastSegment.getAttribute('data-start'));
  await lastSegment.locator('button.time').click();
  await playerAt(page, segmentStart);
  assert.ok(Math.abs((await currentTime()) - segmentStart) < 0.05);
  assert.equal(await lastSegment.getAttribute('aria-current'), 'true', 'the segment playing is highlighted');

  // Inline edit (If-Match with the transcript's ETag), then the console's search finds the new word.
  const first = page.locator('.segment').first();
  await first.getByRole('button', { name: 'Edit' }).click();
  const editor = first.locator('textarea');
  await editor.fill(`${await editor.inputValue()} zanzibar`);
  await first.getByRole('button', { name: 'Save' }).click();
  await first.locator('.text', { hasText: 'zanzibar' }).waitFor();
  await page.getByText('Versions').click();
  await page.getByText('Version 2').waitFor();

  await page.getByRole('link', { name: 'Back to recordings' }).click();
  await page.getByRole('link', { name: 'Austen 0920' }).waitFor();
  await page.getByLabel('Search transcripts').fill('zanzibar');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  const hit = page.locator('.hits li', { hasText: 'Austen 0920' });
  await hit.locator('mark', { hasText: 'zanzibar' }).waitFor();

  // The hit opens its recording; an export downloads the edited transcript; a revert undoes the edit.
  await hit.getByRole('link').click();
  await page.getByRole('heading', { name: 'Austen 0920' }).waitFor();
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'srt', exact: true }).click()]);
  assert.equal(download.suggestedFilename(), 'Austen 0920.srt');
  const srt = await readFile(await download.path(), 'utf8');
  assert.match(srt, /^1\n00:00:\d\d,\d{3} --> /);
  assert.match(srt, /zanzibar/);
  await page.getByText('Versions').click();
  await page.getByRole('listitem').filter({ hasText: 'Version 1' }).getByRole('button', { name: 'Revert to this version' }).click();
  await page.getByText('Version 3').waitFor();
  assert.doesNotMatch(await page.locator('.segment').first().locator('.text').innerText(), /zanzibar/);

  assert.deepEqual([...problems], []);

  // A stale access token is refreshed silently: the list loads after one 401 and a refresh.
  await page.evaluate(`localStorage.setItem('transcribo.session',
    JSON.stringify({ ...JSON.parse(localStorage.getItem('transcribo.session')), accessToken: 'expired' }))`);
  const refreshed = page.waitForResponse((res) => res.url().endsWith('/api/v1/auth/refresh') && res.status() === 200);
  await page.goto(`${server.base}/`);
  await refreshed;
  await page.getByRole('link', { name: 'Austen 0920' }).waitFor();
  assert.deepEqual(
    problems.splice(0).map((problem) => problem.replace(/\?.*$/, '')),
    [`401 GET ${server.base}/api/v1/audio`],
  );

  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
  assert.equal(await page.evaluate(`localStorage.getItem('transcribo.session')`), null);
  assert.deepEqual(problems, []);
});
