import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createRedactor, redactText } from '../../src/privacy/index.js';
import { LOOK_ALIKES, SEEDED, SEEDED_VALUES, TERMS } from './fixtures.js';

describe('createRedactor', () => {
  test('the seeded transcript keeps none of its values, and every look-alike', () => {
    const redactor = createRedactor({ terms: TERMS });
    const lookAlikes = SEEDED.at(-1)!;
    const redacted = SEEDED.slice(0, -1).map((line) => redactor.redact(line)).join('\n');
    for (const { text } of SEEDED_VALUES) {
      assert.ok(!redacted.toLowerCase().includes(text.toLowerCase()), `${text} is still in the redacted text`);
    }
    for (const { placeholder } of SEEDED_VALUES) assert.ok(redacted.includes(placeholder), placeholder);
    // Nothing a value is made of survives either: no digit run of a card or a phone.
    assert.doesNotMatch(redacted, /4111|612|2100|078-05|1234567|192\.168|borja|łukasz/i);
    assert.equal(redactor.redact(lookAlikes), lookAlikes);
    for (const text of LOOK_ALIKES) assert.ok(lookAlikes.includes(text));
  });

  test('the same value gets the same placeholder in every text: prompt, history, transcript', () => {
    const redactor = createRedactor({ terms: ['Ana García'] });
    const transcript = redactor.redact('Ana García: mi correo es Ana@Example.com y mi tarjeta 4111 1111 1111 1111.');
    const history = redactor.redact('¿Cuál era el correo de ana garcía? ana@example.com, ¿no? Y 8.8.8.8.');
    const prompt = redactor.redact('Escribe a ANA@EXAMPLE.COM con la tarjeta 4111-1111-1111-1111 y el 8.8.8.8.');
    assert.equal(transcript, '<NAME_1>: mi correo es <EMAIL_1> y mi tarjeta <CARD_1>.');
    assert.equal(history, '¿Cuál era el correo de <NAME_1>? <EMAIL_1>, ¿no? Y <IP_1>.');
    assert.equal(prompt, 'Escribe a <EMAIL_1> con la tarjeta <CARD_1> y el <IP_1>.');
    // A different value of a kind already seen gets the next number.
    assert.equal(redactor.redact('y bea@example.com'), 'y <EMAIL_2>');
  });

  test('two redactors share nothing', () => {
    const a = createRedactor();
    const b = createRedactor();
    assert.equal(a.redact('x@example.com y@example.com'), '<EMAIL_1> <EMAIL_2>');
    assert.equal(b.redact('y@example.com'), '<EMAIL_1>');
    assert.equal(b.restore('<EMAIL_2>'), '<EMAIL_2>');
  });

  test('restore() puts the values back into a model answer, in any form the model echoes', () => {
    const redactor = createRedactor({ terms: ['Borja'] });
    const text = 'Borja (borja@example.com, 612 345 678) pagó con 4111 1111 1111 1111 desde 10.0.0.7.';
    const redacted = redactor.redact(text);
    assert.equal(redacted, '<NAME_1> (<EMAIL_1>, <PHONE_1>) pagó con <CARD_1> desde <IP_1>.');
    assert.equal(redactor.restore(redacted), text);
    const answer = 'NAME_1 wrote from email_1 [3]; call <PHONE_1> or PHONE\\_1. Card: CARD_1. <EMAIL_9> and IP_12 are unknown.';
    assert.equal(
      redactor.restore(answer),
      'Borja wrote from borja@example.com [3]; call 612 345 678 or 612 345 678. Card: 4111 1111 1111 1111. <EMAIL_9> and IP_12 are unknown.',
    );
    // A value written two ways comes back as first seen.
    redactor.redact('BORJA@EXAMPLE.COM');
    assert.equal(redactor.restore('<EMAIL_1>'), 'borja@example.com');
  });

  test('text that already looks like a placeholder is kept apart and comes back verbatim', () => {
    const redactor = createRedactor();
    const text = 'The form says EMAIL_1 and <IP_1>; the real one is ana@example.com.';
    const redacted = redactor.redact(text);
    assert.equal(redacted, 'The form says <EMAIL_1> and <IP_1>; the real one is <EMAIL_2>.');
    assert.equal(redactor.restore(redacted), text);
    assert.deepEqual(redactor.counts(), { email: 1 });
  });

  test('counts() gives distinct values per kind, never the values', () => {
    const redactor = createRedactor({ terms: TERMS });
    assert.deepEqual(redactor.counts(), {});
    for (const line of SEEDED) redactor.redact(line);
    redactor.redact(SEEDED.join('\n')); // the same values again add nothing
    assert.deepEqual(redactor.counts(), { email: 2, phone: 5, card: 3, iban: 3, ssn: 2, dni: 3, ip: 4, name: 3 });
    assert.ok(!JSON.stringify(redactor.counts()).includes('@'));
  });

  test('a streamed answer is restored even when a placeholder is cut between chunks', () => {
    const redactor = createRedactor();
    redactor.redact('ana@example.com 612345678');
    const answer = 'Write to <EMAIL_1>, or call PHONE_1 (not <EMAIL_2>). EMAIL_1';
    const expected = redactor.restore(answer);
    assert.equal(expected, 'Write to ana@example.com, or call 612345678 (not <EMAIL_2>). ana@example.com');
    for (let size = 1; size <= 7; size++) {
      const stream = redactor.restorer();
      let out = '';
      for (let i = 0; i < answer.length; i += size) out += stream.push(answer.slice(i, i + size));
      out += stream.flush();
      assert.equal(out, expected, `chunks of ${size}`);
    }
    // Text that cannot become a placeholder is not held back.
    assert.equal(redactor.restorer().push('Hello there'), 'Hello there');
  });

  test('redactText: one text, the same placeholders a redactor gives', () => {
    assert.equal(
      redactText('Ana llamó desde 612 345 678 y otra vez desde +34 612 345 678.', { terms: ['Ana'] }),
      '<NAME_1> llamó desde <PHONE_1> y otra vez desde <PHONE_1>.',
    );
    assert.equal(redactText('8.8.8.8 ana@example.com', { kinds: ['email'] }), '8.8.8.8 <EMAIL_1>');
    assert.equal(redactText('nada que ocultar'), 'nada que ocultar');
  });
});
