/**
 * Personal data kept from LLM providers end to end: a transcript seeded with every kind of value
 * (and look-alikes that must stay), asked about in every way the API asks a model. The fake
 * provider must never receive a value; the user must read every value back.
 */

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { sql } from 'drizzle-orm';
import type { App } from '../../src/app.js';
import { queryRows } from '../../src/db/client.js';
import { asSystem } from '../../src/db/scope.js';
import { shouldRedact } from '../../src/privacy/index.js';
import { describeEachDatabase } from '../helpers/app.js';
import { bearer, createTextEntry, registerUser, type TestUser } from '../helpers/factory.js';
import { fakeServer, json, openaiCompletion, sse, startSse, type RequestBody } from '../helpers/fake-llm.js';
import { waitUntil } from '../helpers/server-process.js';

const TERM = 'Proyecto Albatros';
/** One of every kind the redactor knows, as written in the transcript. */
const VALUES = [
  'ana.garcia@example.com',
  '612 345 678',
  '+44 20 7946 0958',
  '4111 1111 1111 1111',
  'ES91 2100 0418 4502 0005 1332',
  '078-05-1120',
  '12345678Z',
  'X1234567L',
  '192.168.10.25',
  '2001:db8::1',
  TERM,
];
/** Numbers that look like values but fail a checksum or are something else: they reach the model. */
const LOOK_ALIKES = ['4111 1111 1111 1112', '1.2.3.4.5', '1234567890123', '2024-03-15', '10:30:00'];
const TRANSCRIPT =
  `Escribid a ${VALUES[0]} si hay dudas. Mi móvil es ${VALUES[1]} y en Londres ${VALUES[2]}. ` +
  `Pagad con la tarjeta ${VALUES[3]}, no con la ${LOOK_ALIKES[0]}. La cuenta es ${VALUES[4]}. ` +
  `Su SSN es ${VALUES[5]} y su DNI ${VALUES[6]}, el NIE ${VALUES[7]}. El servidor ${VALUES[8]} y el ${VALUES[9]} fallan. ` +
  `Es la versión ${LOOK_ALIKES[1]} del ${TERM}, pedido ${LOOK_ALIKES[2]} del ${LOOK_ALIKES[3]} a las ${LOOK_ALIKES[4]}.`;
const EXPECTED_COUNTS = { email: 1, phone: 2, card: 1, iban: 1, ssn: 1, dni: 2, ip: 2, name: 1 };

const PLACEHOLDER = /<[A-Z]+_\d+>/g;

function promptOf(body: RequestBody): string {
  return (body.messages ?? []).map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content))).join('\n');
}

/** Every placeholder the prompt holds, once each: what the fake "answers" with. */
function placeholdersIn(body: RequestBody): string[] {
  return [...new Set(promptOf(body).match(PLACEHOLDER) ?? [])];
}

const USAGE = { prompt_tokens: 30, completion_tokens: 9 };

const openai = await fakeServer((request, res) => {
  const { body } = request;
  const echoed = placeholdersIn(body);
  if (body.response_format) {
    const summary = {
      summary: `Datos: ${echoed.join(', ')} [1]`,
      key_points: [{ text: `Pagos: ${echoed.join(', ')}`, segments: [3] }],
      action_items: [{ text: 'Llamar al cliente', owner: echoed.find((p) => p.startsWith('<NAME_')) ?? null, segments: [2] }],
      language: 'es',
    };
    json(res, 200, openaiCompletion(JSON.stringify(summary), USAGE));
    return;
  }
  const answer = `Datos: ${echoed.join(', ')} [1].`;
  if (!body.stream) {
    json(res, 200, openaiCompletion(answer, USAGE));
    return;
  }
  startSse(res);
  // Five characters at a time: placeholders arrive cut between deltas.
  for (let i = 0; i < answer.length; i += 5) {
    sse(res, null, { id: 'c', object: 'chat.completion.chunk', created: 0, model: 'gpt-test', choices: [{ index: 0, delta: { content: answer.slice(i, i + 5) }, finish_reason: null }] });
  }
  sse(res, null, { id: 'c', object: 'chat.completion.chunk', created: 0, model: 'gpt-test', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
  sse(res, null, { id: 'c', object: 'chat.completion.chunk', created: 0, model: 'gpt-test', choices: [], usage: { prompt_tokens: 30, completion_tokens: 12, total_tokens: 42 } });
  sse(res, null, '[DONE]');
  res.end();
});
after(() => openai.close());

/** The provider got none of the values, and the look-alikes as written. */
function assertRedactedPrompt(body: RequestBody) {
  const prompt = promptOf(body);
  for (const value of VALUES) assert.ok(!prompt.includes(value), `the provider received ${value}`);
  assert.ok(!prompt.toLowerCase().includes('albatros'), 'the sensitive term reached the provider in another case');
  for (const lookAlike of LOOK_ALIKES) assert.ok(prompt.includes(lookAlike), `the look-alike ${lookAlike} was redacted`);
}

function assertAllValues(text: string, what: string) {
  for (const value of VALUES) assert.ok(text.includes(value), `${what} lacks ${value}: ${text}`);
  assert.doesNotMatch(text, PLACEHOLDER, `${what} still holds a placeholder`);
}

async function seeded(app: App, label: string): Promise<{ user: TestUser; recordingId: string; transcriptionId: string }> {
  const user = await registerUser(app, label);
  const terms = await app.inject({ method: 'PUT', url: '/api/v1/privacy/terms', headers: bearer(user.accessToken), payload: { terms: [TERM] } });
  assert.equal(terms.statusCode, 200, terms.body);
  const entry = await createTextEntry(app, user, { title: 'Llamada con clientes', original_text: TRANSCRIPT, language: 'es' });
  return { user, recordingId: entry.id, transcriptionId: entry.transcription.id };
}

function lastRequestAsking(question: string): RequestBody {
  const found = openai.requests.findLast((r) => promptOf(r.body).includes(question));
  assert.ok(found, `the provider was asked "${question}"`);
  return found.body;
}

describeEachDatabase(
  'PII kept from the provider',
  (ctx) => {
    test('the policy: cloud leaves a loopback provider alone and redacts a remote one; all cannot be loosened', () => {
      assert.equal(shouldRedact('cloud', openai.origin), false);
      assert.equal(shouldRedact('cloud', 'https://api.openai.com/v1'), true);
      assert.equal(shouldRedact('cloud', null), true);
      assert.equal(shouldRedact('cloud', openai.origin, true), true);
      assert.equal(shouldRedact('all', openai.origin, false), true);
      assert.equal(shouldRedact('off', 'https://api.anthropic.com', undefined), false);
    });

    test('a completion: the provider sees placeholders only, the user reads the values, the counts are stored', async () => {
      const { app } = ctx();
      const { user, transcriptionId } = await seeded(app, 'sync');
      // The question names values of the transcript, written differently: the same placeholders.
      const question = 'Quién es ANA.GARCIA@example.com y el +34 612345678? Habla del proyecto albatros.';
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/chat/completion',
        headers: bearer(user.accessToken),
        payload: { transcription_id: transcriptionId, message: question, redact: true },
      });
      assert.equal(res.statusCode, 200, res.body);
      const sent = lastRequestAsking('Quién es');
      assertRedactedPrompt(sent);
      const asked = sent.messages!.at(-1)!.content as string;
      assert.equal(asked, 'Quién es <EMAIL_1> y el <PHONE_1>? Habla del <NAME_1>.');
      assert.equal(placeholdersIn(sent).length, 11);

      const body = res.json();
      assertAllValues(body.content, 'the answer');
      assert.deepEqual(body.redactions, EXPECTED_COUNTS);
      assert.equal(body.citations.length, 1);
      // [1] is the second sentence, the phones': quoted as stored.
      assert.equal(body.citations[0].text, `Mi móvil es ${VALUES[1]} y en Londres ${VALUES[2]}.`);

      // A follow-up: the stored answer (real values) goes back as history, redacted again.
      const next = await app.inject({
        method: 'POST',
        url: '/api/v1/chat/completion',
        headers: bearer(user.accessToken),
        payload: { session_id: body.session_id, message: 'Y el segundo teléfono?', redact: true },
      });
      assert.equal(next.statusCode, 200, next.body);
      assertRedactedPrompt(lastRequestAsking('Y el segundo'));
      const session = (await app.inject({ method: 'GET', url: `/api/v1/chat/sessions/${body.session_id}`, headers: bearer(user.accessToken) })).json();
      const answers = session.messages.filter((m: { role: string }) => m.role === 'assistant');
      assert.equal(answers.length, 2);
      for (const answer of answers) {
        assertAllValues(answer.content, 'a stored answer');
        assert.deepEqual(answer.redactions, EXPECTED_COUNTS);
      }
      assert.equal(session.messages[0].redactions, null, 'questions carry no counts');

      // The server's default (cloud) does not redact for a provider on loopback.
      const plain = await app.inject({
        method: 'POST',
        url: '/api/v1/chat/completion',
        headers: bearer(user.accessToken),
        payload: { transcription_id: transcriptionId, message: 'Sin redactar?' },
      });
      assert.equal(plain.statusCode, 200, plain.body);
      assert.ok(promptOf(lastRequestAsking('Sin redactar?')).includes(VALUES[3]!));
      assert.equal(plain.json().redactions, null);
    });

    test('streamed: every delta the user reads carries values, never a placeholder cut in two', async () => {
      const { app } = ctx();
      const { user, transcriptionId } = await seeded(app, 'stream');
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/chat/completion',
        headers: { ...bearer(user.accessToken), accept: 'text/event-stream' },
        payload: { transcription_id: transcriptionId, message: 'En streaming?', redact: true },
      });
      assert.equal(res.statusCode, 200, res.body);
      assertRedactedPrompt(lastRequestAsking('En streaming?'));
      const events = res.body
        .trim()
        .split('\n\n')
        .map((block) => {
          const [eventLine, dataLine] = block.split('\n');
          return { event: eventLine!.slice('event: '.length), data: JSON.parse(dataLine!.slice('data: '.length)) };
        });
      const deltas = events.filter((e) => e.event === 'delta').map((e) => e.data.text as string);
      for (const delta of deltas) assert.doesNotMatch(delta, /<[A-Z]*_?\d*>?$|^[A-Z]*_?\d*>/, `a delta shows part of a placeholder: ${delta}`);
      assertAllValues(deltas.join(''), 'the streamed answer');
      const done = events.at(-1)!;
      assert.equal(done.event, 'done');
      assertAllValues(done.data.content, 'the done event');
      assert.equal(done.data.content, deltas.join(''));
      assert.deepEqual(done.data.redactions, EXPECTED_COUNTS);
    });

    test('async: the job redacts as the request asked, and stores the answer with its values', async () => {
      const { app } = ctx();
      const { user, transcriptionId } = await seeded(app, 'async');
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/chat/completion/async',
        headers: bearer(user.accessToken),
        payload: { transcription_id: transcriptionId, message: 'Más tarde?', redact: true },
      });
      assert.equal(res.statusCode, 202, res.body);
      const job = await waitUntil('the job settled', async () => {
        const view = (await app.inject({ method: 'GET', url: `/api/v1/jobs/${res.json().job_id}`, headers: bearer(user.accessToken) })).json();
        return view.status === 'completed' || view.status === 'failed' ? view : null;
      }, 30_000);
      assert.equal(job.status, 'completed', JSON.stringify(job));
      assertRedactedPrompt(lastRequestAsking('Más tarde?'));
      const session = (await app.inject({ method: 'GET', url: `/api/v1/chat/sessions/${res.json().session_id}`, headers: bearer(user.accessToken) })).json();
      const answer = session.messages.find((m: { id: string }) => m.id === job.result.message_id);
      assertAllValues(answer.content, 'the async answer');
      assert.deepEqual(answer.redactions, EXPECTED_COUNTS);
    });

    test('a summary: made from the redacted transcript, stored and shown with the values', async () => {
      const { app, database } = ctx();
      const { user, recordingId } = await seeded(app, 'summary');
      const res = await app.inject({
        method: 'POST',
        url: `/api/v1/audio/${recordingId}/summary`,
        headers: bearer(user.accessToken),
        payload: { redact: true },
      });
      assert.equal(res.statusCode, 200, res.body);
      const sent = openai.requests.findLast((r) => r.body.response_format)!.body;
      assertRedactedPrompt(sent);
      const summary = res.json();
      assertAllValues(summary.summary, 'the summary');
      assertAllValues(summary.key_points[0].text, 'a key point');
      assert.equal(summary.action_items[0].owner, TERM);
      const quoted = summary.citations.map((c: { text: string }) => c.text).join(' ');
      assert.ok(quoted.includes(VALUES[1]!) && quoted.includes(VALUES[3]!), `citations quote the stored segments: ${quoted}`);
      const [stored] = await asSystem(database.db, 'test: the stored summary', (tx) =>
        queryRows<{ content: { summary: string } }>(tx, sql`select content from transcript_summaries where user_id = ${user.userId}`),
      );
      assertAllValues(stored!.content.summary, 'the stored summary');
    });

    test('redact=true exports: no value in any format, the same placeholder for a value in text, segments and words', async () => {
      const { app, database } = ctx();
      const { user, recordingId, transcriptionId } = await seeded(app, 'export');
      // Times and word timings as an engine would give them, so subtitles can render.
      await asSystem(database.db, 'test: times for a text transcript', async (tx) => {
        const segments = await queryRows<{ id: string; index: number; text: string }>(
          tx,
          sql`select id, index, text from transcript_segments where transcription_id = ${transcriptionId}`,
        );
        for (const s of segments) {
          const words = s.text.split(' ').map((word, i) => ({ word: i === 0 ? word : ` ${word}`, start: s.index * 10 + i * 0.2, end: s.index * 10 + i * 0.2 + 0.2 }));
          await tx.execute(sql`update transcript_segments set start_seconds = ${s.index * 10}, end_seconds = ${s.index * 10 + 9},
                               words = ${JSON.stringify(words)}::jsonb where id = ${s.id}`);
        }
      });
      const urls = [`/api/v1/audio/${recordingId}/transcription`, `/api/v1/audio/transcription/${transcriptionId}`];
      for (const url of urls) {
        for (const format of ['json', 'text', 'srt', 'vtt', 'verbose_json']) {
          const res = await app.inject({ method: 'GET', url: `${url}?format=${format}&redact=true`, headers: bearer(user.accessToken) });
          assert.equal(res.statusCode, 200, `${format}: ${res.body}`);
          for (const value of VALUES) assert.ok(!res.body.includes(value), `${format} at ${url} holds ${value}`);
          for (const lookAlike of LOOK_ALIKES.slice(1)) assert.ok(res.body.includes(lookAlike), `${format} lost ${lookAlike}`);
          assert.match(res.body, /<EMAIL_1>/);
        }
      }
      const view = (await app.inject({ method: 'GET', url: `${urls[1]}?redact=true`, headers: bearer(user.accessToken) })).json();
      const words = view.segments.flatMap((s: { words: { word: string }[] }) => s.words.map((w) => w.word.trim())).join(' ');
      // The phone spoken as three words is one word now, with the placeholder the text has.
      const phone = /Mi móvil es (<PHONE_\d+>)/.exec(view.text)![1]!;
      assert.ok(words.includes(`es ${phone}`), words);
      assert.ok(words.includes('<CARD_1>,'), words);
      for (const value of VALUES) assert.ok(!words.includes(value), `the words hold ${value}`);
      // Without the flag the values are there.
      const plain = await app.inject({ method: 'GET', url: `${urls[1]}?format=text`, headers: bearer(user.accessToken) });
      assertAllValues(plain.body, 'the unredacted text');
    });

    test('sensitive terms: bounded, replaced as a whole, and each user sees only their own', async () => {
      const { app } = ctx();
      const a = await registerUser(app, 'terms-a');
      const b = await registerUser(app, 'terms-b');
      const put = (user: TestUser, terms: unknown) =>
        app.inject({ method: 'PUT', url: '/api/v1/privacy/terms', headers: bearer(user.accessToken), payload: { terms } });
      const get = async (user: TestUser) =>
        (await app.inject({ method: 'GET', url: '/api/v1/privacy/terms', headers: bearer(user.accessToken) })).json().terms;

      assert.deepEqual(await get(a), []);
      const saved = await put(a, ['  Ana   García ', 'Albatros', 'ana garcía']);
      assert.equal(saved.statusCode, 200, saved.body);
      assert.deepEqual(saved.json().terms, ['Ana García', 'Albatros']);
      assert.equal((await put(b, ['Bravo'])).statusCode, 200);
      assert.deepEqual(await get(a), ['Ana García', 'Albatros']);
      assert.deepEqual(await get(b), ['Bravo']);
      assert.equal((await put(a, ['Zulu'])).statusCode, 200);
      assert.deepEqual(await get(a), ['Zulu'], 'PUT replaces the list');
      assert.deepEqual(await get(b), ['Bravo'], "another user's list is untouched");

      for (const bad of [['x'], ['  x  '], ['y'.repeat(101)], Array.from({ length: 501 }, (_, i) => `term ${i}`), [7]]) {
        const res = await put(a, bad);
        assert.equal(res.statusCode, 422, res.body);
        assert.equal(res.json().code, 'validation_failed');
      }
      assert.deepEqual(await get(a), ['Zulu'], 'a refused list changes nothing');
    });
  },
  { OPENAI_BASE_URL: `${openai.origin}/v1`, OPENAI_API_KEY: 'sk-test', LLM_MODEL: 'gpt-test' },
  { startQueue: true },
);
