/**
 * Chat across all of a user's transcripts (`scope: "all"`): the passages that match the question
 * come from any of the user's recordings and never from another user's, and the answer's
 * citations name the recording each cited segment is in.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { describeEachDatabase } from '../helpers/app.js';
import { bearer, createTextEntry, registerUser } from '../helpers/factory.js';
import { fakeServer, json, openaiCompletion } from '../helpers/fake-llm.js';

/** Cites whatever the prompt numbered [2], so the test sees which passage that was. */
const llm = await fakeServer((_req, res) =>
  json(res, 200, openaiCompletion('Both boats sail [1][2]. Invented [9].', { prompt_tokens: 30, completion_tokens: 8 })),
);
after(() => llm.close());

const promptOf = (i: number) => (llm.requests[i]?.body.messages ?? []).map((m) => String(m.content)).join('\n');

describeEachDatabase(
  'chat across all transcripts',
  (ctx) => {
    test('grounded in the best-matching passages of the user’s own transcripts; citations carry recording_id', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const other = await registerUser(app, 'other');
      const harbour = await createTextEntry(app, user, { title: 'Harbour', language: 'en', original_text: 'The red boat sails at dawn. Nothing else today.' });
      const river = await createTextEntry(app, user, { title: 'River', language: 'en', original_text: 'We talk about lunch. The blue boat sails at noon.' });
      await createTextEntry(app, other, { title: 'Secret', language: 'en', original_text: 'The green boat sails never.' });

      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/chat/completion',
        headers: bearer(user.accessToken),
        payload: { message: 'When does each boat sail?', scope: 'all' },
      });
      assert.equal(res.statusCode, 200, res.body);
      const prompt = promptOf(llm.requests.length - 1);
      assert.match(prompt, /\[\d\] Harbour: The red boat sails at dawn\./);
      assert.match(prompt, /\[\d\] River: The blue boat sails at noon\./);
      assert.doesNotMatch(prompt, /green boat|Nothing else|lunch/, 'only matching passages, and only the user’s');

      const body = res.json<{ content: string; citations: Array<{ segment_id: string; recording_id?: string; text: string }>; session_id: string }>();
      assert.equal(body.content, 'Both boats sail [1][2]. Invented.');
      const segmentOf = (entry: typeof harbour, text: string) => entry.transcription.segments.find((s) => s.text.includes(text))!.id;
      const expected = new Map([
        [segmentOf(harbour, 'red boat'), harbour.id],
        [segmentOf(river, 'blue boat'), river.id],
      ]);
      assert.equal(body.citations.length, 2);
      for (const citation of body.citations) assert.equal(citation.recording_id, expected.get(citation.segment_id), citation.text);

      // A follow-up in the same session with the scope is grounded again; without it, not at all.
      const followUp = await app.inject({
        method: 'POST',
        url: '/api/v1/chat/completion',
        headers: bearer(user.accessToken),
        payload: { message: 'And the red boat?', scope: 'all', session_id: body.session_id },
      });
      assert.equal(followUp.statusCode, 200, followUp.body);
      assert.match(promptOf(llm.requests.length - 1), /Harbour: The red boat sails at dawn/);

      const plain = await app.inject({
        method: 'POST',
        url: '/api/v1/chat/completion',
        headers: bearer(user.accessToken),
        payload: { message: 'When does each boat sail?' },
      });
      assert.equal(plain.statusCode, 200, plain.body);
      assert.doesNotMatch(promptOf(llm.requests.length - 1), /red boat/);
      assert.deepEqual(plain.json<{ citations: unknown[] }>().citations, []);
    });

    test('nothing matches: answered without passages; an unknown scope is 422', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      await createTextEntry(app, user, { title: 'Harbour', language: 'en', original_text: 'The red boat sails at dawn.' });
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/chat/completion',
        headers: bearer(user.accessToken),
        payload: { message: 'Any zebras?', scope: 'all' },
      });
      assert.equal(res.statusCode, 200, res.body);
      assert.doesNotMatch(promptOf(llm.requests.length - 1), /red boat/);
      const bad = await app.inject({
        method: 'POST',
        url: '/api/v1/chat/completion',
        headers: bearer(user.accessToken),
        payload: { message: 'x', scope: 'everything' },
      });
      assert.equal(bad.statusCode, 422, bad.body);
    });
  },
  { OPENAI_BASE_URL: `${llm.origin}/v1`, OPENAI_API_KEY: 'sk-test', LLM_MODEL: 'gpt-test', LLM_REDACT_PII: 'off' },
);
