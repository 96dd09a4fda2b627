/**
 * The console's chat, summary, citations and speakers in a real browser (Debian's chromium, driven
 * by playwright-core) against a real server with the sphinx engine and a fake OpenAI-compatible
 * LLM on 127.0.0.1: ask about a transcribed LibriVox clip, watch the answer stream in, follow its
 * citation to the player, summarise and follow a key point, ask a follow-up in the same session,
 * rename a speaker of a text transcript, and ask across all transcripts from the recordings screen. Outside CI the suite skips where chromium is missing.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { after, before, test } from 'node:test';
import { audioForm, librivoxClips } from '../helpers/audio.js';
import { chromiumMissing, openConsole, playerAt, playerReady, registerInConsole, seekPlayer, watchPage, type ConsoleBrowser } from '../helpers/console-browser.js';
import { fakeServer, json, sse, startSse, type FakeServer, type Received } from '../helpers/fake-llm.js';

let browser: ConsoleBrowser | undefined;
let llm: FakeServer | undefined;
// The first streamed answer holds after its first words until the page has shown them.
let releaseStream!: () => void;
const streamReleased = new Promise<void>((resolve) => (releaseStream = resolve));

/** The highest segment number the prompt shows the model (`[12] …`): the one answers cite. */
function lastSegmentNumber(request: Received): number {
  const prompt = (request.body.messages ?? []).map((m) => String(m.content)).join('\n');
  const numbers = [...prompt.matchAll(/^\[(\d+)\] /gm)].map((m) => Number(m[1]));
  assert.ok(numbers.length > 0, `no numbered segments in the prompt:\n${prompt}`);
  return Math.max(...numbers);
}

function chunk(res: ServerResponse, delta: Record<string, string>, finish: string | null = null) {
  sse(res, null, { id: 'c', object: 'chat.completion.chunk', created: 0, model: 'gpt-test', choices: [{ index: 0, delta, finish_reason: finish }] });
}

async function answer(request: Received, res: ServerResponse): Promise<void> {
  const cited = lastSegmentNumber(request);
  if (request.body.response_format) {
    const summary = { summary: `A reading [${cited}].`, key_points: [{ text: 'The last passage', segments: [cited] }], action_items: [], language: 'en' };
    json(res, 200, {
      id: 'c',
      object: 'chat.completion',
      created: 0,
      model: 'gpt-test',
      choices: [{ index: 0, message: { role: 'assistant', content: JSON.stringify(summary) }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 30, completion_tokens: 20, total_tokens: 50 },
    });
    return;
  }
  startSse(res);
  chunk(res, { role: 'assistant', content: 'The reader ' });
  await streamReleased;
  chunk(res, { content: `says it at the end [${cited}].` });
  chunk(res, {}, 'stop');
  sse(res, null, { id: 'c', object: 'chat.completion.chunk', created: 0, model: 'gpt-test', choices: [], usage: { prompt_tokens: 30, completion_tokens: 9, total_tokens: 39 } });
  sse(res, null, '[DONE]');
  res.end();
}

before(async () => {
  if (chromiumMissing) return;
  llm = await fakeServer(answer);
  browser = await openConsole('chat', {
    OPENAI_BASE_URL: `${llm.origin}/v1`,
    OPENAI_API_KEY: 'sk-test',
    LLM_MODEL: 'gpt-test',
    LLM_REDACT_PII: 'off',
  });
});

// The browser is closed by the test itself too: the helpers' own `after` (registered first, so run
// first) deletes chromium's profile, which a running chromium may still be writing to.
async function closeBrowser(): Promise<void> {
  releaseStream();
  const open = browser;
  browser = undefined;
  await open?.close();
}

after(async () => {
  await closeBrowser();
  await llm?.close();
});

// No summary is stored until one is asked for.
const noSummaryYet = (status: number, url: string) => status === 404 && /\/api\/v1\/audio\/[^/]+\/summary$/.test(url);

test('ask, follow the streamed citation, summarise, follow up and rename a speaker', { skip: chromiumMissing }, async () => {
  assert.ok(browser && llm);
  const { server, context } = browser;
  const page = context.pages()[0] ?? (await context.newPage());
  const problems = watchPage(page, server.base, noSummaryYet);
  page.setDefaultTimeout(30_000);
  await registerInConsole(page, server.base, 'chat@example.com');

  // The recordings come through the API with the console's own token: quicker than the upload screen.
  const token = await page.evaluate(`JSON.parse(localStorage.getItem('transcribo.session')).accessToken`);
  const auth = { authorization: `Bearer ${String(token)}` };
  const clip = librivoxClips().find((c) => c.id.endsWith('0920'))!;
  const form = audioForm(await readFile(clip.wavPath), 'austen.wav', { title: 'Austen 0920', language: 'en' });
  const uploaded = await fetch(`${server.base}/api/v1/audio/upload`, { method: 'POST', headers: auth, body: form });
  assert.equal(uploaded.status, 201, await uploaded.clone().text());
  const audioId = ((await uploaded.json()) as { id: string }).id;
  const transcribed = await fetch(`${server.base}/api/v1/audio/${audioId}/transcribe?wait=120`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ language: 'en' }),
  });
  assert.equal(((await transcribed.json()) as { status: string }).status, 'completed');
  const text = await fetch(`${server.base}/api/v1/audio/upload`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'Standup', language: 'en', original_text: 'Ana: We ship on Friday.\nLuis: I will write the notes.' }),
  });
  assert.equal(text.status, 201, await text.clone().text());
  const textId = ((await text.json()) as { id: string }).id;

  await page.goto(`${server.base}/#/recordings/${audioId}`);
  // The transcript's longest word, for the question across all transcripts at the end.
  await page.locator('.segment .word').first().waitFor();
  const heard = (await page.locator('.segment .word').allInnerTexts()).sort((a, b) => b.length - a.length)[0];
  assert.ok(heard, 'the transcript has words');
  await playerReady(page);
  // The player elsewhere first, so that a citation's seek is seen to move it.
  const moveAway = (to: number) => seekPlayer(page, to);

  // The answer streams: its first words show while the model is still writing.
  await page.getByLabel('Question').fill('What does the reader say at the end?');
  await page.getByRole('button', { name: 'Ask', exact: true }).click();
  await page.locator('.answer[data-done="false"]', { hasText: 'The reader' }).waitFor();
  releaseStream();
  const cite = page.locator('.answer[data-done="true"] .cite').first();
  await cite.waitFor();
  assert.match(await page.locator('.answer').first().innerText(), /^The reader says it at the end \[\d+\]\.$/);

  // Its citation seeks the player to the cited segment, which becomes the highlighted one.
  const segmentId = await cite.getAttribute('data-segment-id');
  const segment = page.locator(`.segment[data-segment-id="${segmentId}"]`);
  const start = Number(await segment.getAttribute('data-start'));
  await moveAway(start + 1.5);
  await cite.click();
  await playerAt(page, start);
  await page.locator(`.segment[aria-current="true"][data-segment-id="${segmentId}"]`).waitFor();

  // A follow-up continues the session: the model is shown the first question and answer.
  await page.getByLabel('Question').fill('And who reads it?');
  await page.getByRole('button', { name: 'Ask', exact: true }).click();
  await page.locator('.answer[data-done="true"]').nth(1).waitFor();
  const followUp = (llm.requests.at(-1)?.body.messages ?? []).map((m) => String(m.content)).join('\n');
  assert.match(followUp, /What does the reader say at the end\?/);
  assert.match(followUp, /The reader says it at the end/);

  // No summary yet: one is made on request, and its key point links to its segment.
  await page.getByText('Summary', { exact: true }).click();
  await page.getByRole('button', { name: 'Summarise' }).click();
  const point = page.locator('.key-points li', { hasText: 'The last passage' });
  await point.locator('.cite').waitFor();
  await moveAway(start + 1.5);
  await point.locator('.cite').click();
  await playerAt(page, start);
  assert.equal(llm.requests.filter((r) => r.body.response_format).length, 1);

  // The text transcript's speakers are renamed in one step.
  await page.goto(`${server.base}/#/recordings/${textId}`);
  await page.getByText('Speakers', { exact: true }).click();
  await page.getByLabel('New name for Ana').fill('Ana María');
  await page.getByRole('button', { name: 'Rename speakers' }).click();
  await page.getByRole('status').filter({ hasText: 'Speakers renamed.' }).waitFor();
  assert.deepEqual(await page.locator('.segment .speaker').allInnerTexts(), ['Ana María', 'Luis']);

  // Across all transcripts, from the recordings screen: the citation opens the clip at the cited time.
  await page.getByRole('link', { name: 'Back to recordings' }).click();
  await page.getByLabel('Question').fill(`Who says "${heard}"?`);
  await page.getByRole('button', { name: 'Ask', exact: true }).click();
  const across = page.locator('.answer[data-done="true"] a.cite').first();
  await across.waitFor();
  assert.equal(await across.getAttribute('href'), `#/recordings/${audioId}?t=${start}`);
  await across.click();
  await page.getByRole('heading', { name: 'Austen 0920' }).waitFor();
  await playerAt(page, start);

  assert.deepEqual(problems, []);
  await closeBrowser();
});
