import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { detectPii, type PiiKind } from '../../src/privacy/index.js';
import { ibanValid, luhnValid, dniValid, ssnValid } from '../../src/privacy/checksums.js';
import { LOOK_ALIKES, SEEDED, SEEDED_VALUES, TERMS } from './fixtures.js';

const found = (text: string, terms: string[] = []) => detectPii(text, { terms }).map((m) => [m.kind, m.text]);

describe('detectPii', () => {
  test('finds every seeded value, as written, with its kind, and nothing else', () => {
    const matches = detectPii(SEEDED.join('\n'), { terms: TERMS });
    assert.deepEqual(
      matches.map((m) => [m.kind, m.text]),
      SEEDED_VALUES.map((v) => [v.kind, v.text]),
    );
  });

  test('look-alikes are left alone, each on its own and in running text', () => {
    for (const text of LOOK_ALIKES) assert.deepEqual(found(`dato: ${text} fin`, TERMS), [], text);
    assert.deepEqual(found(LOOK_ALIKES.join(' '), TERMS), []);
  });

  test('a value is found only as a whole run, never a piece of a longer number', () => {
    assert.deepEqual(found('612 345 678 9'), []); // ten digits: not a phone
    assert.deepEqual(found('4111 1111 1111 1111 1111 1'), []); // 21 digits: not a card, no card inside
    assert.deepEqual(found('5.192.168.1.10'), []);
    assert.deepEqual(found('1078-05-1120'), []);
    assert.deepEqual(found('112345678Z'), []);
  });

  test('sentence punctuation around a value stays outside it', () => {
    assert.deepEqual(found('Escribe a ana@example.com. O llama al 612345678.'), [
      ['email', 'ana@example.com'],
      ['phone', '612345678'],
    ]);
    assert.deepEqual(found('(IP 10.0.0.1).'), [['ip', '10.0.0.1']]);
    assert.deepEqual(found('<ana@example.com>'), [['email', 'ana@example.com']]);
  });

  test('a spaced IBAN ends where its country says, even before an upper-case word', () => {
    assert.deepEqual(found('ES91 2100 0418 4502 0005 1332 TOTAL'), [['iban', 'ES91 2100 0418 4502 0005 1332']]);
  });

  test('overlaps: the longest candidate wins, whatever the order of detectors', () => {
    // "ana" and "García" are terms, but the e-mail around "ana" is longer.
    assert.deepEqual(found('ana@example.com y García', ['ana', 'García']), [
      ['email', 'ana@example.com'],
      ['name', 'García'],
    ]);
    // A term that is part of a longer term: the longer one.
    assert.deepEqual(found('Ana García López', ['Ana', 'Ana García López']), [['name', 'Ana García López']]);
    // A term spelled with other white space or case is the same term.
    assert.deepEqual(detectPii('ana   GARCÍA', { terms: ['Ana García'] })[0]?.key, 'ana garcía');
  });

  test('terms are whole words in any script, case-insensitive', () => {
    assert.deepEqual(found('Привет, ДМИТРИЙ и Дмитрийев', ['Дмитрий']), [['name', 'ДМИТРИЙ']]);
    assert.deepEqual(found('Álvaro y ÁLVARO, no Álvarez', ['álvaro']), [
      ['name', 'Álvaro'],
      ['name', 'ÁLVARO'],
    ]);
    assert.deepEqual(found('price (a+b) and a+b', ['a+b']), [['name', 'a+b'], ['name', 'a+b']]);
  });

  test('kinds narrows what is looked for', () => {
    const text = 'ana@example.com 612345678 8.8.8.8';
    const kinds: PiiKind[] = ['ip'];
    assert.deepEqual(
      detectPii(text, { kinds }).map((m) => m.kind),
      ['ip'],
    );
    assert.deepEqual(detectPii('Borja', { kinds: ['email'], terms: ['Borja'] }), []);
  });

  test('the same text always gives the same matches', () => {
    const text = SEEDED.join('\n');
    assert.deepEqual(detectPii(text, { terms: TERMS }), detectPii(text, { terms: [...TERMS].reverse() }));
  });
});

describe('checksums', () => {
  test('Luhn, IBAN mod 97, DNI/NIE letter, SSN ranges', () => {
    assert.equal(luhnValid('79927398713'), true);
    assert.equal(luhnValid('79927398710'), false);
    assert.equal(ibanValid('NL91ABNA0417164300'), true);
    assert.equal(ibanValid('NL91ABNA0417164301'), false);
    assert.equal(ibanValid('XX91ABNA0417164300'), false); // no such country
    assert.equal(dniValid('00000000T'), true);
    assert.equal(dniValid('Z1234567R'), true);
    assert.equal(dniValid('Z1234567A'), false);
    assert.equal(ssnValid('001', '01', '0001'), true);
    assert.equal(ssnValid('899', '99', '9999'), true);
    assert.equal(ssnValid('900', '01', '0001'), false);
  });
});
