import { authFetch } from './client';

export interface ServerEvent {
  event: string;
  data: unknown;
}

/**
 * Reads a server-sent event stream with fetch, because EventSource cannot send the bearer header.
 * Calls onEvent for each event until the stream ends or `signal` aborts.
 */
export async function readEvents(
  url: string,
  onEvent: (event: ServerEvent) => void,
  signal: AbortSignal,
  // A POST with a body (chat answers stream from one); GET without.
  init: { method?: string; body?: string } = {},
): Promise<void> {
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await authFetch(url, { ...init, headers, signal });
  if (!res.ok || !res.body) throw new Error(await failureText(res));
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n/g, '\n');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const parsed = parseBlock(block);
      if (parsed) onEvent(parsed);
    }
  }
}

/** A refusal before the stream began (a problem+json body): its detail, else the status. */
async function failureText(res: Response): Promise<string> {
  try {
    const problem = (await res.json()) as { detail?: unknown };
    if (typeof problem.detail === 'string') return problem.detail;
  } catch {
    // Not JSON: the status says enough.
  }
  return `HTTP ${res.status}`;
}

/** One event from its lines; null for comments (keep-alives) and blocks without data. */
export function parseBlock(block: string): ServerEvent | null {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return null;
  const text = data.join('\n');
  try {
    return { event, data: JSON.parse(text) as unknown };
  } catch {
    return { event, data: text };
  }
}
