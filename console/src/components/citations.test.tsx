import { render } from 'preact';
import { act } from 'preact/test-utils';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { answerParts, citeTargets, CitedText, type CiteTarget } from './citations';
import { WordSpan } from './word';

const segments = [
  { id: 'seg-1', index: 1, start: 0 },
  { id: 'seg-2', index: 2, start: 4.2 },
  { id: 'seg-3', index: 3, start: 9.5 },
  { id: 'seg-4', index: 4, start: 12 },
];

let root: HTMLElement | undefined;
function mount(node: preact.ComponentChild): HTMLElement {
  const el = document.createElement('div');
  root = el;
  document.body.append(el);
  // A synchronous callback: act has flushed the render when it returns.
  void act(() => render(node, el));
  return el;
}
afterEach(() => {
  if (!root) return;
  render(null, root);
  root.remove();
  root = undefined;
});

describe('answerParts', () => {
  test('splits prose from the server’s marker forms, ranges expanded', () => {
    expect(answerParts('Approved [2]. Sent by Ana [1, 3] and [2-4].')).toEqual([
      { text: 'Approved ' },
      { cite: 2 },
      { text: '. Sent by Ana ' },
      { cite: 1 },
      { cite: 3 },
      { text: ' and ' },
      { cite: 2 },
      { cite: 3 },
      { cite: 4 },
      { text: '.' },
    ]);
  });

  test('a Markdown link is not a citation', () => {
    expect(answerParts('see [2](http://x)')).toEqual([{ text: 'see [2](http://x)' }]);
  });
});

describe('a rendered answer', () => {
  test('its [n] become buttons that seek to segment n of the transcript', () => {
    const onCite = vi.fn<(target: CiteTarget) => void>();
    const content = 'The budget went up [3]; Ana sends it [2].';
    const citations = [
      { segment_id: 'seg-2', start: 4.2, end: 5 },
      { segment_id: 'seg-3', start: 9.5, end: 11 },
    ];
    const el = mount(<CitedText content={content} targets={citeTargets(content, citations, segments)} onCite={onCite} />);
    const buttons = [...el.querySelectorAll('button.cite')];
    expect(buttons.map((b) => b.textContent)).toEqual(['[3]', '[2]']);
    expect(buttons.map((b) => b.getAttribute('data-segment-id'))).toEqual(['seg-3', 'seg-2']);
    expect(buttons[0]?.getAttribute('aria-label')).toBe('Cited segment 3, play from 0:09');
    expect(el.textContent).toBe(content);
    void act(() => (buttons[0] as HTMLButtonElement).click());
    expect(onCite).toHaveBeenCalledWith({ segmentId: 'seg-3', start: 9.5 });
  });

  test('without the transcript on screen the citations are matched in ascending order', () => {
    const content = 'Later [7], earlier [5].';
    const citations = [
      { segment_id: 'a', start: 1, end: 2, recording_id: 'rec-1' },
      { segment_id: 'b', start: 30, end: 31, recording_id: 'rec-2' },
    ];
    const el = mount(<CitedText content={content} targets={citeTargets(content, citations)} onCite={() => undefined} />);
    const links = [...el.querySelectorAll('a.cite')];
    expect(links.map((a) => a.getAttribute('href'))).toEqual(['#/recordings/rec-2?t=30', '#/recordings/rec-1?t=1']);
  });

  test('a number with no segment stays plain text', () => {
    const el = mount(<CitedText content="Odd [9]." targets={citeTargets('Odd [9].', [], segments)} onCite={() => undefined} />);
    expect(el.querySelectorAll('.cite button, button.cite, a.cite')).toHaveLength(0);
    expect(el.textContent).toBe('Odd [9].');
  });
});

describe('words', () => {
  test('a word below 0.6 confidence is marked, with its confidence for screen readers', () => {
    const el = mount(
      <p>
        <WordSpan word={{ word: ' sure', start: 1, confidence: 0.9 }} onSeek={() => undefined} />
        <WordSpan word={{ word: ' maybe', start: 2, confidence: 0.42 }} onSeek={() => undefined} />
        <WordSpan word={{ word: ' unknown', start: 3 }} onSeek={() => undefined} />
      </p>,
    );
    const words = [...el.querySelectorAll('.word')];
    expect(words.map((w) => w.classList.contains('low-confidence'))).toEqual([false, true, false]);
    expect(words[1]?.getAttribute('title')).toBe('low confidence: 42%');
    expect(words[1]?.querySelector('.visually-hidden')?.textContent).toBe(' (low confidence: 42%)');
  });
});
