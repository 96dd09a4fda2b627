/**
 * `npm run screenshots`: regenerates docs/screenshots/*.png, the console's main screens at
 * 1280×800, from a real server (temp DATA_DIR, embedded PostgreSQL, sphinx engine) in Debian's
 * chromium. It seeds one account (an admin) with a transcribed LibriVox clip and a text transcript
 * with speakers. The chat answer and summary come from a fake OpenAI-compatible LLM on 127.0.0.1
 * that quotes the transcript, so no key or network is needed. It reuses the e2e helpers; their
 * node:test cleanup hook removes the temp folders when the script ends.
 */
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { audioForm, librivoxClips } from '../test/helpers/audio.js';
import { chromiumMissing, openConsole, playerReady, registerInConsole } from '../test/helpers/console-browser.js';
import { fakeServer, json, sse, startSse, type Received } from '../test/helpers/fake-llm.js';
import { ROOT } from '../test/helpers/server-process.js';

const OUT = path.join(ROOT, 'docs', 'screenshots');
const EMAIL = 'ada@example.com';
const VIEWPORT = { width: 1280, height: 800 };

/** The first numbered segment the prompt shows the model, to quote and cite. */
function firstSegment(request: Received): { n: number; text: string } {
  const prompt = (request.body.messages ?? []).map((m) => String(m.content)).join('\n');
  // A prompt line reads `[0] (00:00–00:05) Speaker: text`; the quote is the text.
  const match = /^\[(\d+)\] (?:\([^)\n]*\) )?(?:[^:\n]{1,40}: )?(.+)$/m.exec(prompt);
  return match ? { n: Number(match[1]), text: match[2]!.trim() } : { n: 1, text: '' };
}

function answer(request: Received, res: ServerResponse): void {
  const { n, text } = firstSegment(request);
  const base = { id: 'c', created: 0, model: 'gpt-demo' };
  if (request.body.response_format) {
    const summary = {
      summary: `A short reading from Jane Austen's Sense and Sensibility, chapter 1 [${n}].`,
      key_points: [{ text: 'The reader judges John Dashwood\'s character', segments: [n] }],
      action_items: [],
      language: 'en',
    };
    json(res, 200, {
      ...base,
      object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant', content: JSON.stringify(summary) }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 120, completion_tokens: 40, total_tokens: 160 },
    });
    return;
  }
  startSse(res);
  const content = `The reader says: "${text}" [${n}].`;
  sse(res, null, { ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: { role: 'assistant', content }, finish_reason: null }] });
  sse(res, null, { ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
  sse(res, null, { ...base, object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: 120, completion_tokens: 20, total_tokens: 140 } });
  sse(res, null, '[DONE]');
  res.end();
}

async function shoot(page: Page, name: string): Promise<void> {
  const file = path.join(OUT, `${name}.png`);
  // Focus rings and the caret are not part of the screen being shown.
  await page.evaluate(`document.activeElement && document.activeElement.blur && document.activeElement.blur()`);
  await page.screenshot({ path: file, animations: 'disabled', caret: 'hide' });
  console.log(`${path.relative(ROOT, file)} (${Math.round(statSync(file).size / 1024)} KiB)`);
}

async function main(): Promise<void> {
  if (chromiumMissing) throw new Error(chromiumMissing);
  mkdirSync(OUT, { recursive: true });
  const llm = await fakeServer(answer);
  const browser = await openConsole('screenshots', {
    ADMIN_EMAILS: EMAIL,
    OPENAI_BASE_URL: `${llm.origin}/v1`,
    OPENAI_API_KEY: 'sk-demo',
    LLM_MODEL: 'gpt-demo',
    LLM_REDACT_PII: 'off',
  });
  try {
    const { server, context } = browser;
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(30_000);
    await page.setViewportSize(VIEWPORT);

    await page.goto(`${server.base}/`);
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    await shoot(page, 'login');

    await registerInConsole(page, server.base, EMAIL);
    const token = await page.evaluate(`JSON.parse(localStorage.getItem('transcribo.session')).accessToken`);
    const auth = { authorization: `Bearer ${String(token)}` };
    const text = await fetch(`${server.base}/api/v1/audio/upload`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({
        title: 'Weekly stand-up',
        language: 'en',
        original_text: 'Ana: We ship the release on Friday.\nLuis: I will write the release notes.\nAna: Then the demo is on Monday.',
      }),
    });
    if (text.status !== 201) throw new Error(`text upload: ${text.status} ${await text.text()}`);
    const clip = librivoxClips().find((c) => c.id.endsWith('0920'))!;
    const form = audioForm(readFileSync(clip.wavPath), 'austen-0920.wav', { title: 'Sense and Sensibility, ch. 1', language: 'en' });
    const uploaded = await fetch(`${server.base}/api/v1/audio/upload`, { method: 'POST', headers: auth, body: form });
    if (uploaded.status !== 201) throw new Error(`clip upload: ${uploaded.status} ${await uploaded.text()}`);
    const audioId = ((await uploaded.json()) as { id: string }).id;
    const transcribed = await fetch(`${server.base}/api/v1/audio/${audioId}/transcribe?wait=180`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ language: 'en' }),
    });
    const status = ((await transcribed.json()) as { status?: string }).status;
    if (status !== 'completed') throw new Error(`the clip's transcription is ${status}`);

    // A reload, not a hash change: the list was loaded (empty) before the uploads.
    await page.reload();
    await page.getByRole('link', { name: 'Weekly stand-up' }).waitFor();
    await page.getByRole('link', { name: 'Sense and Sensibility, ch. 1' }).waitFor();
    // The search's highlighted hit above the list, scrolled so that the list shows too.
    await page.getByLabel('Search transcripts').fill('respectable');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.locator('.hits mark').first().waitFor();
    await page.locator('#list-heading').evaluate((el) => (el as unknown as { scrollIntoView(o: object): void }).scrollIntoView({ block: 'center' }));
    await shoot(page, 'recordings');

    await page.locator('.recordings').getByRole('link', { name: 'Sense and Sensibility, ch. 1' }).click();
    await page.locator('.segment .word').first().waitFor();
    await playerReady(page);
    await shoot(page, 'transcript');

    await page.getByLabel('Question').fill('What does the reader say about him?');
    await page.getByRole('button', { name: 'Ask', exact: true }).click();
    await page.locator('.answer[data-done="true"] .cite').first().waitFor();
    await page.getByText('Summary', { exact: true }).click();
    await page.getByRole('button', { name: 'Summarise' }).click();
    await page.locator('.key-points li').first().waitFor();
    await page.locator('details.summary').evaluate((el) => (el as unknown as { scrollIntoView(o: object): void }).scrollIntoView({ block: 'start' }));
    await shoot(page, 'chat');

    await page.getByRole('link', { name: 'Account' }).click();
    await page.getByLabel('Name').fill('laptop script');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('row', { name: /laptop script/ }).waitFor();
    await shoot(page, 'account');

    await page.getByRole('link', { name: 'Admin' }).click();
    await page.getByLabel(`Role of ${EMAIL}`).waitFor();
    await page.locator('[data-field="sphinx"]').waitFor();
    await shoot(page, 'admin');

    await page.getByRole('link', { name: 'Live' }).click();
    await page.getByRole('heading', { name: 'Live transcription' }).waitFor();
    await shoot(page, 'live');
  } finally {
    await browser.close();
    await llm.close();
  }
}

await main();
