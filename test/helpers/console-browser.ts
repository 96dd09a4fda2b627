/**
 * The web console in Debian's chromium, driven by playwright-core, against a real server: what
 * every console suite needs (launch, the page's problems, an account). Outside CI a suite skips
 * where chromium is not installed; with CI set it fails.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
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
