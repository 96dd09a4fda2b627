import { useEffect, useState } from 'preact/hooks';
import { api, problemText, unwrap } from '../api/client';
import type { ChatCitation } from '../api/types';
import { useI18n } from '../i18n';

export interface EarlierTurn {
  question: string;
  answer: string;
  citations: ChatCitation[];
}

interface Message {
  role: string;
  content: string;
  citations?: ChatCitation[] | null;
}

/** A stored conversation as the panel's turns: each question with the answer that followed it. */
export function turnsOf(messages: readonly Message[]): EarlierTurn[] {
  const turns: EarlierTurn[] = [];
  for (const message of messages) {
    if (message.role === 'user') turns.push({ question: message.content, answer: '', citations: [] });
    else if (message.role === 'assistant' && turns.length > 0) {
      const last = turns[turns.length - 1]!;
      turns[turns.length - 1] = { ...last, answer: last.answer + message.content, citations: message.citations ?? [] };
    }
  }
  return turns;
}

/**
 * A transcript's earlier conversations (newest first), to reopen one and go on asking in it.
 * `refresh` changes after each answer, so a conversation started here shows up in the list.
 */
export function ChatHistory(props: {
  transcriptionId: string;
  current: string | null;
  refresh: number;
  onOpen: (sessionId: string, turns: EarlierTurn[]) => void;
  onNew: () => void;
}) {
  const { transcriptionId, current, refresh, onOpen, onNew } = props;
  const { t } = useI18n();
  const [sessions, setSessions] = useState<Array<{ id: string; title: string; updated_at: string }>>([]);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    void api
      .GET('/api/v1/chat/sessions', { params: { query: { transcription_id: transcriptionId, limit: 10 } } })
      .then((result) => live && setSessions(unwrap(result).items))
      .catch((e: unknown) => live && setError(problemText(e)));
    return () => {
      live = false;
    };
  }, [transcriptionId, refresh]);

  const open = async (id: string) => {
    try {
      const session = unwrap(await api.GET('/api/v1/chat/sessions/{id}', { params: { path: { id } } }));
      onOpen(id, turnsOf(session.messages));
    } catch (e) {
      setError(problemText(e));
    }
  };

  if (sessions.length === 0 && !error) return null;
  return (
    <nav class="chat-history" aria-label={t('chat.earlier')}>
      <h4>{t('chat.earlier')}</h4>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <ul>
        {sessions.map((session) => (
          <li key={session.id}>
            <button type="button" class="link" aria-current={session.id === current ? 'true' : undefined} onClick={() => void open(session.id)}>
              {session.title}
            </button>{' '}
            <time dateTime={session.updated_at}>{new Date(session.updated_at).toLocaleString()}</time>
          </li>
        ))}
      </ul>
      {current && (
        <button type="button" onClick={onNew}>
          {t('chat.new')}
        </button>
      )}
    </nav>
  );
}
