/**
 * The web console in Debian's chromium, driven by playwright-core, against a real server: what
 * every console suite needs (launch, the page's problems, an account). Outside CI a suite skips
 * where chromium is not installed; with CI set it fails.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { audioForm } from './audio.js';
import { fakeLlmEnv, fakeServer, type FakeServer, type Handler } from './fake-llm.js';
import { ROOT, SERVER_FROM_SOURCE, startServer, stopServer, tempDir, type RunningServer } from './server-process.js';

export const CHROMIUM = '/usr/bin/chromium';
// Without the networking flags chromium keeps trying Google's hosts on a closed network.
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The `skip` option of a console test: false where chromium runs, the reason where it cannot. */
export const chromiumMissing: false | string = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed`;
if (chromiumMissing && process.env.CI) throw new Error(`CI is set and ${CHROMIUM} is missing: install Debian's chromium`);

export interface ConsoleBrowser {
  server: RunningServer;
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Builds the console when stale, starts a server on the embedded default (sphinx engine unless
 * `env` says otherwise) and a chromium profile of its own. `args` adds chromium flags (a fake
 * microphone, say).
 */
export async function openConsole(label: string, env: Record<string, string> = {}, args: string[] = []): Promise<ConsoleBrowser> {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.js'), '--console'], { cwd: ROOT, stdio: 'inherit' });
  const server = await startServer(
    tempDir(`console-${label}`),
    { STT_ENGINE: 'sphinx', SECRET_KEY: `console-${label}-secret-that-is-long-enough`, ...env },
    SERVER_FROM_SOURCE,
  );
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(tempDir(`chromium-${label}`), {
      executablePath: CHROMIUM,
      args: [...CHROMIUM_ARGS, ...args],
      headless: true,
      locale: 'en-US',
    });
  } catch (error) {
    await stopServer(server);
    throw error;
  }
  return {
    server,
    context,
    close: async () => {
      await context.close();
      if (server.proc.exitCode === null) await stopServer(server);
    },
  };
}

export interface ConsoleWithLlm {
  /** Set by the suite's `before` where chromium runs. */
  browser: ConsoleBrowser | undefined;
  /** The fake OpenAI-compatible LLM the server asks, set beside `browser`. */
  llm: FakeServer | undefined;
  /** Closes the browser, once however often called. */
  closeBrowser(): Promise<void>;
}

/**
 * Registers a suite's `before` and `after`: a console whose chat and summaries come from a fake
 * OpenAI-compatible LLM answering with `answer`. The suite's test closes the browser itself too: the
 * server helpers' own `after` (registered first, so run first) deletes chromium's profile, which a
 * running chromium may still be writing to. `beforeClose` runs on every close (to let a held answer go).
 */
export function consoleWithFakeLlm(label: string, answer: Handler, env: Record<string, string> = {}, beforeClose = () => {}): ConsoleWithLlm {
  const suite: ConsoleWithLlm = {
    browser: undefined,
    llm: undefined,
    async closeBrowser() {
      beforeClose();
      const open = suite.browser;
      suite.browser = undefined;
      await open?.close();
    },
  };
  before(async () => {
    if (chromiumMissing) return;
    suite.llm = await fakeServer(answer);
    suite.browser = await openConsole(label, { ...env, ...fakeLlmEnv(suite.llm), LLM_REDACT_PII: 'off' });
  });
  after(async () => {
    await suite.closeBrowser();
    await suite.llm?.close();
  });
  return suite;
}

/**
 * What should fail a test: errors the page logs (a CSP refusal included), failed API calls other
 * than those `expected` allows, and requests anywhere but the server.
 */
export function watchPage(page: Page, base: string, expected: (status: number, url: string) => boolean = () => false): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    // Chromium logs every 4xx as "Failed to load resource"; the response handler below judges those.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) problems.push(`console: ${message.text()}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400 && !expected(response.status(), response.url())) {
      problems.push(`${response.status()} ${response.request().method()} ${response.url()}`);
    }
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(base) && !url.startsWith('blob:') && !url.startsWith('data:')) problems.push(`third-party request: ${url}`);
  });
  return problems;
}

/** For `watchPage`: no summary is stored until one is asked for. */
export const noSummaryYet = (status: number, url: string) => status === 404 && /\/api\/v1\/audio\/[^/]+\/summary$/.test(url);

/** The page's globals as the predicates below use them, typed without the DOM library (tests compile for Node). */
interface PageGlobals {
  document: { querySelector(selector: string): { currentTime: number; readyState: number } | null };
}

/**
 * Waits until the page's player has loaded its audio. Functions, not strings: the console's CSP
 * (no 'unsafe-eval') refuses a string predicate whenever Playwright evaluates it in the page.
 */
export async function playerReady(page: Page): Promise<void> {
  await page.waitForFunction(() => ((globalThis as unknown as PageGlobals).document.querySelector('audio')?.readyState ?? 0) >= 1);
}

/** Waits until the page's player is at `seconds` (within 50 ms). */
export async function playerAt(page: Page, seconds: number): Promise<void> {
  await page.waitForFunction(
    (at) => Math.abs(((globalThis as unknown as PageGlobals).document.querySelector('audio')?.currentTime ?? -1) - at) < 0.05,
    seconds,
  );
}

/** Moves the page's player to `seconds`, as a listener would, and waits until it is there. */
export async function seekPlayer(page: Page, seconds: number): Promise<void> {
  await page.evaluate((at) => {
    const audio = (globalThis as unknown as PageGlobals).document.querySelector('audio');
    if (audio) audio.currentTime = at;
  }, seconds);
  await playerAt(page, seconds);
}

/** Creates an account through the console's own form and waits until it is signed in. */
export async function registerInConsole(page: Page, base: string, email: string): Promise<void> {
  await page.goto(`${base}/`);
  await page.getByRole('button', { name: 'No account yet? Create one' }).click();
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill('a long enough password');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByText(`Signed in as ${email}`).waitFor();
}

/** The signed-in console's own credentials, to set up through the API: quicker than the screens. */
export async function consoleAuth(page: Page): Promise<{ authorization: string }> {
  const token = await page.evaluate(`JSON.parse(localStorage.getItem('transcribo.session')).accessToken`);
  return { authorization: `Bearer ${String(token)}` };
}

/**
 * Uploads the WAV at `wavPath` as an English recording and asks for its transcription, which the
 * server waits up to 120 s for: the recording's id, and `transcribed`, that transcription's final status.
 */
export async function uploadAndTranscribe(
  base: string,
  auth: { authorization: string },
  wavPath: string,
  filename: string,
  title: string,
): Promise<{ id: string; transcribed: Promise<string> }> {
  const form = audioForm(await readFile(wavPath), filename, { title, language: 'en' });
  const uploaded = await fetch(`${base}/api/v1/audio/upload`, { method: 'POST', headers: auth, body: form });
  assert.equal(uploaded.status, 201, await uploaded.clone().text());
  const id = ((await uploaded.json()) as { id: string }).id;
  const transcribed = fetch(`${base}/api/v1/audio/${id}/transcribe?wait=120`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ language: 'en' }),
  }).then(async (res) => ((await res.json()) as { status: string }).status);
  // The caller may await it only later; a failure before then must not also surface as an unhandled rejection.
  transcribed.catch(() => undefined);
  return { id, transcribed };
}

/** Creates the text transcript "Standup", two speakers (Ana and Luis) in one line each; its id. */
export async function createStandup(base: string, auth: { authorization: string }): Promise<string> {
  const created = await fetch(`${base}/api/v1/audio/upload`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'Standup', language: 'en', original_text: 'Ana: We ship on Friday.\nLuis: I will write the notes.' }),
  });
  assert.equal(created.status, 201, await created.clone().text());
  return ((await created.json()) as { id: string }).id;
}
