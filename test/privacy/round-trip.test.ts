import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { createRedactor, detectPii } from '../../src/privacy/index.js';

const TERMS = ['Ana García', 'Borja'];

/** One written form per value: a value written two ways comes back in its first form (see redactor.ts). */
const VALUES = [
  'ana.garcia@example.com',
  'borja+news@correo.example.es',
  '612 345 678',
  '+44 (0)20 7946 0958',
  '91 123 45 67',
  '4111 1111 1111 1111',
  '378282246310005',
  'ES91 2100 0418 4502 0005 1332',
  'GB82WEST12345698765432',
  '078-05-1120',
  '12345678Z',
  'X1234567L',
  '192.168.1.10',
  '2001:db8::1',
  'Ana García',
  'Borja',
];

/** Placeholder-shaped text and the characters values are made of, to press on every edge. */
const TRICKY = ['EMAIL_1', '<PHONE_1>', 'ip_1', 'CARD\\_1', '<', '>', '_1', ' ', '.', '-', '+', '0', '9', ':', '@', '\n', 'ñ'];

const fragment = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  fc.constantFrom(...TRICKY),
  fc.constantFrom(...VALUES),
);

test('restore(redact(x)) === x for texts made of random fragments and personal data', () => {
  fc.assert(
    fc.property(fc.array(fragment, { maxLength: 24 }), (parts) => {
      const text = parts.join('');
      // Joined fragments can write one value two ways (612345678 next to +34 612345678): skip those.
      const forms = new Map<string, string>();
      for (const m of detectPii(text, { terms: TERMS })) {
        const id = `${m.kind}:${m.key}`;
        fc.pre((forms.get(id) ?? m.text) === m.text);
        forms.set(id, m.text);
      }
      const redactor = createRedactor({ terms: TERMS });
      const redacted = redactor.redact(text);
      assert.equal(redactor.restore(redacted), text);
      const stream = redactor.restorer();
      let streamed = '';
      for (let i = 0; i < redacted.length; i += 5) streamed += stream.push(redacted.slice(i, i + 5));
      assert.equal(streamed + stream.flush(), text);
    }),
    { seed: 20261201, numRuns: 500 },
  );
});

test('values set apart in running text never reach the redacted text', () => {
  const words = fc.stringMatching(/^[a-zñ ]{0,12}$/);
  fc.assert(
    fc.property(fc.array(fc.tuple(words, fc.constantFrom(...VALUES)), { minLength: 1, maxLength: 10 }), (pairs) => {
      const text = pairs.map(([w, v]) => `${w} | ${v} | `).join('');
      const redacted = createRedactor({ terms: TERMS }).redact(text);
      for (const [, value] of pairs) assert.ok(!redacted.includes(value), `${value} in ${redacted}`);
    }),
    { seed: 20261201, numRuns: 300 },
  );
});
