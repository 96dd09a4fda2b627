import { describe, expect, test } from 'vitest';
import { turnsOf } from './chat-history';

const cite = { segment_id: 's-1', start: 1.5, end: 3, text: 'quoted' };

describe('turnsOf', () => {
  test('pairs each question with the answer after it, with that answer’s citations', () => {
    expect(
      turnsOf([
        { role: 'user', content: 'What was decided?' },
        { role: 'assistant', content: 'The budget [1].', citations: [cite] },
        { role: 'user', content: 'And then?' },
        { role: 'assistant', content: 'Nothing.', citations: null },
      ]),
    ).toEqual([
      { question: 'What was decided?', answer: 'The budget [1].', citations: [cite] },
      { question: 'And then?', answer: 'Nothing.', citations: [] },
    ]);
  });

  test('a question left unanswered stays, with an empty answer; an answer before any question is dropped', () => {
    expect(
      turnsOf([
        { role: 'assistant', content: 'Imported without a question.' },
        { role: 'user', content: 'Still there?' },
      ]),
    ).toEqual([{ question: 'Still there?', answer: '', citations: [] }]);
  });
});
