import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { desc, sql } from 'drizzle-orm';
import { compileRead, literal, reads, scopePrefix } from '../../src/db/read.js';
import { recordings } from '../../src/db/schema.js';
import { splitAtParams } from '../../src/db/sql-text.js';
import { AppError } from '../../src/http/errors.js';

describe('splitAtParams', () => {
  test('splits at each $n and says which parameter goes there', () => {
    assert.deepEqual(splitAtParams('select a from t where b = $2 and c < $1 limit $10'), {
      pieces: ['select a from t where b = ', ' and c < ', ' limit ', ''],
      order: [1, 0, 9],
    });
  });

  test('a $1 in a string, identifier, comment or dollar-quoted body is text', () => {
    const text = `select '$1', E'\\'$1', "a$1""$2", x$1, $$ $1 $$, $q$ $1 $q$ -- $1
      /* $1 /* nested $1 */ $1 */ from t where u = $1`;
    const { pieces, order } = splitAtParams(text);
    assert.deepEqual(order, [0]);
    assert.equal(pieces[0], text.slice(0, -2));
  });

  test('refuses several statements and unterminated text', () => {
    assert.throws(() => splitAtParams('select 1; select 2'), /single statement/);
    assert.doesNotThrow(() => splitAtParams(`select ';' from t`));
    for (const text of [`select 'x`, 'select "x', 'select /* x', 'select $a$ x']) {
      assert.throws(() => splitAtParams(text), /Unterminated/, text);
    }
  });
});

describe('literal', () => {
  test('quotes values as node-postgres would send them as parameters', () => {
    assert.equal(literal(null), 'null');
    assert.equal(literal(undefined), 'null');
    assert.equal(literal(21), `'21'`);
    assert.equal(literal(-1), `'-1'`, 'a negative number stays inside quotes (no -- comment)');
    assert.equal(literal(true), `'true'`);
    assert.equal(literal(new Date('2024-01-02T03:04:05.678Z')), `'2024-01-02T03:04:05.678Z'`);
    assert.equal(literal("it's"), `'it''s'`);
    assert.equal(literal('a\\b'), ` E'a\\\\b'`);
    assert.equal(literal("\\'; drop table t; --"), ` E'\\\\''; drop table t; --'`);
  });

  test('refuses NUL with a 400 and anything it cannot quote faithfully', () => {
    assert.throws(() => literal('a\0b'), (error) => error instanceof AppError && error.status === 400);
    for (const value of [{ a: 1 }, [1, 2], Buffer.from('x')]) assert.throws(() => literal(value), TypeError);
  });
});

describe('compileRead', () => {
  test('fills placeholders into the text compiled once', () => {
    const read = compileRead(
      reads.select({ id: recordings.id }).from(recordings).orderBy(desc(recordings.id)).limit(sql.placeholder('limit')),
    );
    assert.equal(read.inline({ limit: 5 }), `select "id" from "recordings" order by "recordings"."id" desc limit '5'`);
    assert.throws(() => read.inline({}), /limit/);
  });

  test('refuses selections it cannot decode', () => {
    assert.throws(() => compileRead(reads.select({ n: sql<number>`count(*)` }).from(recordings)), /not a column/);
  });

  test('the scope needs a UUID', () => {
    assert.match(scopePrefix('0190c8a1-0000-7000-8000-000000000000'), /^select set_config\('app\.user_id', '0190c8a1-/);
    assert.throws(() => scopePrefix("x' or true"), /UUID/);
  });
});
