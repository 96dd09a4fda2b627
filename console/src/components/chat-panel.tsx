import { useRef, useState } from 'preact/hooks';
import { problemText } from '../api/client';
import type { ChatCitation } from '../api/types';
import { readEvents } from '../api/events';
import { useI18n } from '../i18n';
import { ChatHistory, type EarlierTurn } from './chat-history';
import { CitedText, citeTargets, type CiteTarget } from './citations';

interface Turn {
  question: string;
  answer: string;
  citations: ChatCitation[];
  done: boolean;
  error: string | null;
}

interface Done {
  content: string;
  citations: ChatCitation[];
  session_id: string;
}

/**
 * Questions about one transcript (or, without one, across all of them with `scope: 'all'`), the
 * answers streamed as they come; follow-ups continue the same session.
 */
export function ChatPanel(props: {
  transcriptionId?: string;
  segments?: ReadonlyArray<{ id: string; index: number; start: number | null }>;
  onCite: (target: CiteTarget) => void;
  scope?: 'all';
}) {
  const { transcriptionId, segments, onCite, scope } = props;
  const { t } = useI18n();
  const [question, setQuestion] = useState('');
  const [turns, setTurns] = useState<Turn[]>([]);
  const [busy, setBusy] = useState(false);
  const session = useRef<string | null>(null);
  const aborter = useRef<AbortController | null>(null);
  // Bumped after each answer, so that a conversation begun here joins the earlier ones' list.
  const [answered, setAnswered] = useState(0);

  const reopen = (sessionId: string, earlier: EarlierTurn[]) => {
    if (busy) return;
    session.current = sessionId;
    setTurns(earlier.map((turn) => ({ ...turn, done: true, error: null })));
  };
  const startOver = () => {
    if (busy) return;
    session.current = null;
    setTurns([]);
  };

  const update = (index: number, change: (turn: Turn) => Turn) => setTurns((all) => all.map((turn, i) => (i === index ? change(turn) : turn)));

  const ask = async (event: Event) => {
    event.preventDefault();
    const message = question.trim();
    if (!message || busy) return;
    const index = turns.length;
    setTurns((all) => [...all, { question: message, answer: '', citations: [], done: false, error: null }]);
    setQuestion('');
    setBusy(true);
    const controller = new AbortController();
    aborter.current = controller;
    const body = {
      message,
      stream: true,
      ...(session.current ? { session_id: session.current } : transcriptionId ? { transcription_id: transcriptionId } : {}),
      ...(scope ? { scope } : {}),
    };
    try {
      await readEvents(
        '/api/v1/chat/completion',
        ({ event, data }) => {
          if (event === 'delta') update(index, (turn) => ({ ...turn, answer: turn.answer + (data as { text: string }).text }));
          else if (event === 'done') {
            const done = data as Done;
            session.current = done.session_id;
            update(index, (turn) => ({ ...turn, answer: done.content, citations: done.citations, done: true }));
          } else if (event === 'error') update(index, (turn) => ({ ...turn, done: true, error: problemText(data) }));
        },
        controller.signal,
        { method: 'POST', body: JSON.stringify(body) },
      );
    } catch (e) {
      if (!controller.signal.aborted) update(index, (turn) => ({ ...turn, done: true, error: problemText(e) }));
    } finally {
      update(index, (turn) => ({ ...turn, done: true }));
      setBusy(false);
      setAnswered((n) => n + 1);
    }
  };

  // Under the transcript's h2 in a recording; a section of its own on the recordings screen.
  const Heading = scope === 'all' ? 'h2' : 'h3';
  return (
    <section class="card chat" aria-labelledby="chat-heading">
      <Heading id="chat-heading">{scope === 'all' ? t('chat.headingAll') : t('chat.heading')}</Heading>
      {transcriptionId && (
        <ChatHistory transcriptionId={transcriptionId} current={session.current} refresh={answered} onOpen={reopen} onNew={startOver} />
      )}
      <ol class="turns">
        {turns.map((turn, i) => (
          <li key={i} class="turn">
            <p class="question">
              <span class="visually-hidden">{t('chat.you')}: </span>
              {turn.question}
            </p>
            <div class="answer" aria-live="polite" aria-busy={turn.done ? 'false' : 'true'} data-done={turn.done ? 'true' : 'false'}>
              {turn.done ? (
                <CitedText content={turn.answer} targets={citeTargets(turn.answer, turn.citations, segments)} onCite={onCite} />
              ) : (
                turn.answer || t('chat.thinking')
              )}
            </div>
            {turn.error && (
              <p role="alert" class="error">
                {turn.error}
              </p>
            )}
          </li>
        ))}
      </ol>
      <form class="ask" onSubmit={(e) => void ask(e)}>
        <label>
          {t('chat.question')}
          <textarea rows={2} required maxLength={20_000} value={question} onInput={(e) => setQuestion(e.currentTarget.value)} />
        </label>
        <button type="submit" disabled={busy || !question.trim()}>
          {t('chat.ask')}
        </button>
        {busy && (
          <button type="button" onClick={() => aborter.current?.abort()}>
            {t('chat.stop')}
          </button>
        )}
      </form>
    </section>
  );
}
