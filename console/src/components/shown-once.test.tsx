import { render } from 'preact';
import { act } from 'preact/test-utils';
import { afterEach, expect, test, vi } from 'vitest';
import { ShownOnce } from './shown-once';

let root: HTMLElement | undefined;
afterEach(() => {
  if (root) render(null, root);
  root?.remove();
  root = undefined;
  vi.restoreAllMocks();
});

function mount(onDone: () => void): HTMLElement {
  root = document.createElement('div');
  document.body.append(root);
  void act(() => render(<ShownOnce label="Your new API key" value="trb_secret" onDone={onDone} />, root!));
  return root;
}

const button = (el: HTMLElement, name: string) => [...el.querySelectorAll('button')].find((b) => b.textContent === name)!;

test('the secret is focused, copied to the clipboard by its button, and dismissed by Done', async () => {
  const writeText = vi.spyOn(navigator.clipboard, 'writeText').mockResolvedValue(undefined);
  const onDone = vi.fn();
  const el = mount(onDone);
  const field = el.querySelector('input')!;
  expect(field.value).toBe('trb_secret');
  expect(field.readOnly).toBe(true);
  expect(document.activeElement).toBe(field);
  // The label names the field, for screen readers and getByLabel alike.
  expect(field.closest('label')?.textContent).toContain('Your new API key');

  await act(async () => button(el, 'Copy').click());
  expect(writeText).toHaveBeenCalledWith('trb_secret');
  expect(button(el, 'Copied')).toBeTruthy();

  button(el, 'Done').click();
  expect(onDone).toHaveBeenCalledOnce();
});

test('without a clipboard the secret is selected for a manual copy', async () => {
  vi.spyOn(navigator.clipboard, 'writeText').mockRejectedValue(new Error('denied'));
  const el = mount(() => undefined);
  const field = el.querySelector('input')!;
  field.setSelectionRange(0, 0);
  await act(async () => button(el, 'Copy').click());
  expect([field.selectionStart, field.selectionEnd]).toEqual([0, 'trb_secret'.length]);
  expect(button(el, 'Copy')).toBeTruthy();
});
