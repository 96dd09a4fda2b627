/**
 * The console's microphone, in a real browser: Debian's chromium with a fake microphone that
 * plays a LibriVox clip (with silence around it, looped), against a real server with the sphinx
 * engine. Records from the microphone into an upload and transcribes it; then runs a live session
 * over the realtime socket until a caption with the clip's words is final, stops it, and opens the
 * recording the server stored. Outside CI the suite skips where chromium is not installed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { librivoxClips } from '../helpers/audio.js';
import { chromiumMissing, openConsole, registerInConsole, watchPage, type ConsoleBrowser } from '../helpers/console-browser.js';
import { tempDir } from '../helpers/server-process.js';

const clip = librivoxClips().find((c) => c.id.endsWith('0880'))!;
const reference = new Set(clip.reference.split(' '));
let browser: ConsoleBrowser | undefined;

before(async () => {
  if (chromiumMissing) return;
  // Chromium loops the file: half a second of silence before the clip and 1.5 s after it give
  // server VAD a turn end on every loop. Chromium reads 16-bit PCM WAV.
  const wav = path.join(tempDir('fake-mic'), 'mic.wav');
  execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-i', clip.wavPath, '-af', 'adelay=500,apad=pad_dur=1.5', '-c:a', 'pcm_s16le', '-ac', '1', wav]);
  browser = await openConsole('live', {}, ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${wav}`]);
  await browser.context.grantPermissions(['microphone'], { origin: browser.server.base });
});

after(() => browser?.close());

// A recording not yet transcribed has no transcription, nor a summary before one is made (404).
const notYet = (status: number, url: string) => status === 404 && /\/api\/v1\/audio\/[^/]+\/(transcription|summary)$/.test(url);

/** How many of the clip's distinct words `text` has. */
function heard(text: string): number {
  return new Set(text.toLowerCase().split(/\W+/).filter((word) => reference.has(word))).size;
}

async function segmentsText(page: Page): Promise<string> {
  return (await page.locator('.segment .text').allInnerTexts()).join(' ');
}

test('record from the microphone, then transcribe live, in the console', { skip: chromiumMissing }, async () => {
  assert.ok(browser);
  const { server, context } = browser;
  const page = context.pages()[0] ?? (await context.newPage());
  const problems = watchPage(page, server.base, notYet);
  page.setDefaultTimeout(30_000);
  await registerInConsole(page, server.base, 'live@example.com');

  // Microphone → MediaRecorder (webm/opus) → the upload form, then the usual transcription.
  await page.getByRole('button', { name: 'Record from microphone' }).click();
  // The elapsed counter, not a sleep: 4 s of the looped file hold the whole clip.
  await page.getByRole('timer', { name: 'Recording time' }).filter({ hasText: '0:04' }).waitFor();
  await page.getByRole('button', { name: 'Stop recording' }).click();
  await page.locator('.dropzone .meta', { hasText: /^microphone-.*\.webm$/ }).waitFor();
  await page.getByLabel('Title').fill('From the microphone');
  await page.getByRole('button', { name: 'Upload', exact: true }).click();
  await page.getByRole('heading', { name: 'From the microphone' }).waitFor();
  await page.getByLabel('Language (empty: detect)').fill('en');
  await page.getByRole('button', { name: 'Transcribe', exact: true }).click();
  await page.locator('.status[data-status="completed"]').waitFor({ timeout: 60_000 });
  const recorded = await segmentsText(page);
  assert.ok(heard(recorded) >= 3, `the microphone recording was transcribed as "${recorded}"`);

  // Live: captions come over the realtime socket; a final one with the clip's words, then Stop.
  await page.getByRole('link', { name: 'Live', exact: true }).click();
  await page.getByLabel('Language (optional, e.g. en, es)').fill('en');
  await page.getByRole('button', { name: 'Start', exact: true }).click();
  await page.locator('.live-status[data-phase="live"]').waitFor();
  const finalCaption = page.locator('.caption[data-state="final"]').filter({ hasText: /\w+ \w+ \w+/ });
  await finalCaption.first().waitFor({ timeout: 45_000 });
  const caption = await finalCaption.first().innerText();
  assert.ok(heard(caption) >= 3, `the first final caption is "${caption}"`);
  await page.getByRole('button', { name: 'Stop', exact: true }).click();
  await page.getByRole('link', { name: 'Open the stored recording' }).click();

  // The stored session: a recording with its transcript, marked live in the list.
  await page.getByRole('heading', { name: /^Live session / }).waitFor();
  await page.locator('.segment').first().waitFor();
  const stored = await segmentsText(page);
  assert.ok(heard(stored) >= 3, `the stored session's transcript is "${stored}"`);
  await page.getByRole('link', { name: 'Back to recordings' }).click();
  const live = page.locator('.recordings li[data-source="realtime"]');
  await live.getByRole('link', { name: /^Live session / }).waitFor();
  assert.equal(await live.count(), 1);

  assert.deepEqual(problems, []);
});
