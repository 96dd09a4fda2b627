import assert from 'node:assert/strict';
import { test } from 'node:test';
import { markSnippet } from '../../src/search/service.js';
import { describeEachDatabase } from '../helpers/app.js';
import { bearer, createTextEntry, registerUser } from '../helpers/factory.js';

test('snippets are HTML-escaped before matches are marked', () => {
  assert.equal(markSnippet('<b>\u0001budget\u0002</b> & "x"'), '&lt;b&gt;<mark>budget</mark>&lt;/b&gt; &amp; &quot;x&quot;');
});

describeEachDatabase('full-text search over transcripts', (ctx) => {
  test('stems in each transcript’s language, ranks better matches first, marks the snippet', async () => {
    const { app } = ctx();
    const user = await registerUser(app);
    await createTextEntry(app, user, {
      title: 'Reunión de presupuesto',
      language: 'es',
      original_text: 'Hablamos de las reuniones del lunes. El presupuesto de marketing sube. Nada más.',
    });
    await createTextEntry(app, user, {
      title: 'Budget call',
      language: 'en',
      original_text:
        'We had several meetings about the budget. The budget for the budget review is due Friday. Lunch was fine.',
    });
    const search = (q: string) =>
      app.inject({ method: 'GET', url: `/api/v1/search?q=${encodeURIComponent(q)}`, headers: bearer(user.accessToken) });

    const spanish = await search('reunión');
    assert.equal(spanish.statusCode, 200, spanish.body);
    assert.equal(spanish.json().items.length, 1, 'Spanish stemming matches "reuniones" for "reunión"');
    const hit = spanish.json().items[0];
    assert.equal(hit.recording_title, 'Reunión de presupuesto');
    assert.equal(hit.index, 0);
    assert.match(hit.snippet, /<mark>reuniones<\/mark>/);

    const english = await search('meeting');
    assert.equal(english.json().items.length, 1, 'English stemming matches "meetings"');
    assert.equal(english.json().items[0].text, 'We had several meetings about the budget.');

    const budget = (await search('budget')).json().items;
    assert.equal(budget.length, 2);
    assert.equal(budget[0].text, 'The budget for the budget review is due Friday.', 'more occurrences rank first');
    assert.ok(budget[0].rank >= budget[1].rank);

    const none = await search('kangaroo');
    assert.deepEqual(none.json().items, []);
  });

  test('only the caller’s transcripts are searched', async () => {
    const { app } = ctx();
    const alice = await registerUser(app);
    const bob = await registerUser(app);
    await createTextEntry(app, alice, { original_text: 'The secret password is swordfish.', language: 'en' });
    const own = await app.inject({ method: 'GET', url: '/api/v1/search?q=swordfish', headers: bearer(alice.accessToken) });
    assert.equal(own.json().items.length, 1);
    const other = await app.inject({ method: 'GET', url: '/api/v1/search?q=swordfish', headers: bearer(bob.accessToken) });
    assert.deepEqual(other.json().items, []);
  });

  test('limit, offset and validation', async () => {
    const { app } = ctx();
    const user = await registerUser(app);
    await createTextEntry(app, user, { original_text: 'Alpha one. Alpha two. Alpha three.', language: 'en' });
    const page = await app.inject({ method: 'GET', url: '/api/v1/search?q=alpha&limit=2', headers: bearer(user.accessToken) });
    assert.equal(page.json().items.length, 2);
    const rest = await app.inject({ method: 'GET', url: '/api/v1/search?q=alpha&limit=2&offset=2', headers: bearer(user.accessToken) });
    assert.equal(rest.json().items.length, 1);
    const blank = await app.inject({ method: 'GET', url: '/api/v1/search?q=%20', headers: bearer(user.accessToken) });
    assert.equal(blank.statusCode, 422);
    const weird = await app.inject({ method: 'GET', url: `/api/v1/search?q=${encodeURIComponent('"unclosed & | !(')}`, headers: bearer(user.accessToken) });
    assert.equal(weird.statusCode, 200, 'web-search syntax never errors on odd input');
  });
});
