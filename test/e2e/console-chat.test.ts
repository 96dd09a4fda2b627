/**
 * The console's chat, summary, citations and speakers in a real browser (Debian's chromium, driven
 * by playwright-core) against a real server with the sphinx engine and a fake OpenAI-compatible
 * LLM on 127.0.0.1: ask about a transcribed LibriVox clip, watch the answer stream in, follow its
 * citation to the player, summarise and follow a key point, ask a follow-up in the same session,
 * rename a speaker of a text transcript, ask across all transcripts from the recordings screen, and
 * reopen the clip's earlier conversation to go on with it. Outside CI the suite skips where chromium is missing.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import { librivoxClips } from '../helpers/audio.js';
import { chromiumMissing, consoleAuth, consoleWithFakeLlm, createStandup, noSummaryYet, playerAt, playerReady, registerInConsole, seekPlayer, uploadAndTranscribe, watchPage } from '../helpers/console-browser.js';
import { endOpenaiStream, json, openaiChunk, openaiCompletion, sse, startSse, type Received } from '../helpers/fake-llm.js';

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

async function answer(request: Received, res: ServerResponse): Promise<void> {
  const cited = lastSegmentNumber(request);
  if (request.body.response_format) {
    const summary = { summary: `A reading [${cited}].`, key_points: [{ text: 'The last passage', segments: [cited] }], action_items: [], language: 'en' };
    json(res, 200, openaiCompletion(JSON.stringify(summary), { prompt_tokens: 30, completion_tokens: 20 }));
    return;
  }
  startSse(res);
  sse(res, null, openaiChunk({ role: 'assistant', content: 'The reader ' }));
  await streamReleased;
  sse(res, null, openaiChunk({ content: `says it at the end [${cited}].` }));
  endOpenaiStream(res, { prompt_tokens: 30, completion_tokens: 9 });
}

const suite = consoleWithFakeLlm('chat', answer, {}, releaseStream);

test('ask, follow the streamed citation, summarise, follow up and rename a speaker', { skip: chromiumMissing }, async () => {
  const { browser, llm } = suite;
  assert.ok(browser && llm);
  const { server, context } = browser;
  const page = context.pages()[0] ?? (await context.newPage());
  const problems = watchPage(page, server.base, noSummaryYet);
  page.setDefaultTimeout(30_000);
  await registerInConsole(page, server.base, 'chat@example.com');

  // The recordings come through the API with the console's own token: quicker than the upload screen.
  const auth = await consoleAuth(page);
  const clip = librivoxClips().find((c) => c.id.endsWith('0920'))!;
  const { id: audioId, transcribed } = await uploadAndTranscribe(server.base, auth, clip.wavPath, 'austen.wav', 'Austen 0920');
  assert.equal(await transcribed, 'completed');
  const textId = await createStandup(server.base, auth);

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

  // Back on the clip, its earlier conversation is listed: reopened with its answers and citation, and continued.
  const earlier = page.getByRole('navigation', { name: 'Earlier conversations' });
  await earlier.getByRole('button', { name: 'What does the reader say at the end?' }).click();
  await page.locator('.turn .question', { hasText: 'And who reads it?' }).waitFor();
  assert.equal(await page.locator('.answer[data-done="true"]').count(), 2);
  await moveAway(start + 1.5);
  await page.locator('.answer .cite').first().click();
  await playerAt(page, start);
  await page.getByLabel('Question').fill('One more thing?');
  await page.getByRole('button', { name: 'Ask', exact: true }).click();
  await page.locator('.answer[data-done="true"]').nth(2).waitFor();
  const continued = (llm.requests.at(-1)?.body.messages ?? []).map((m) => String(m.content)).join('\n');
  assert.match(continued, /And who reads it\?/, 'the reopened session goes on with its history');

  assert.deepEqual(problems, []);
  await suite.closeBrowser();
});
