import { useEffect, useRef, useState } from 'preact/hooks';
import { clock } from '../format';
import { useI18n } from '../i18n';
import { LiveSession, type LiveProblem, type LiveState } from './live-session';

function ProblemText({ problem }: { problem: LiveProblem }) {
  const { t } = useI18n();
  switch (problem.kind) {
    case 'micDenied':
      return <>{t('live.micDenied')}</>;
    case 'noMic':
      return <>{t('live.noMic')}</>;
    case 'micFailed':
      return <>{t('live.micFailed')}</>;
    case 'secret':
      return <>{t('live.secretFailed')}</>;
    case 'closed':
      return <>{t('live.closed', { code: problem.code, reason: problem.reason || '–' })}</>;
    case 'server':
      return <>{t('live.serverError', { message: problem.message })}</>;
  }
}

/**
 * `#/live`: live transcription from the microphone over the realtime socket. Captions show as
 * they come (a turn's deltas, then its final text); Stop ends the session, which the server keeps
 * as a recording, linked here once it is stored.
 */
export function LiveScreen() {
  const { t } = useI18n();
  const [language, setLanguage] = useState('');
  const [state, setState] = useState<LiveState | null>(null);
  const session = useRef<LiveSession | null>(null);
  const stopButton = useRef<HTMLButtonElement>(null);
  useEffect(() => () => session.current?.dispose(), []);

  const phase = state?.phase ?? null;
  const running = phase === 'starting' || phase === 'live' || phase === 'stopping' || phase === 'storing';
  useEffect(() => {
    if (phase === 'live') stopButton.current?.focus();
  }, [phase]);

  const start = (event: Event) => {
    event.preventDefault();
    session.current?.dispose();
    const live = new LiveSession(setState, language.trim());
    session.current = live;
    void live.start();
  };

  return (
    <>
      <h1>{t('live.heading')}</h1>
      <form class="card" aria-label={t('live.heading')} onSubmit={start}>
        <p>{t('live.intro')}</p>
        <div class="row">
          <label>
            {t('live.language')}
            <input name="language" value={language} maxLength={35} disabled={running} onInput={(e) => setLanguage(e.currentTarget.value)} />
          </label>
        </div>
        <div class="row live-controls">
          <button type="submit" disabled={running}>
            {t('live.start')}
          </button>
          <button type="button" ref={stopButton} disabled={phase !== 'live'} onClick={() => void session.current?.stop()}>
            {t('live.stop')}
          </button>
          {state && (
            <span class="live-status" data-phase={state.phase} aria-live="polite">
              {t(`live.phase.${state.phase}`)}
              {(phase === 'live' || phase === 'stopping') && <> · {clock(state.seconds)}</>}
              {state.speaking && <> · {t('live.speaking')}</>}
            </span>
          )}
        </div>
      </form>
      {state && state.problems.length > 0 && (
        <div role="alert" class="error">
          {state.problems.map((problem, i) => (
            <p key={i}>
              <ProblemText problem={problem} />
            </p>
          ))}
        </div>
      )}
      {state && (
        <section class="card" aria-labelledby="captions-heading">
          <h2 id="captions-heading">{t('live.captions')}</h2>
          {state.captions.length === 0 && <p class="meta">{t('live.noCaptions')}</p>}
          <ol class="captions" aria-live="polite">
            {state.captions.map((caption) => (
              <li key={caption.id} class={`caption ${caption.state}`} data-state={caption.state}>
                {caption.text || '…'}
                {caption.state === 'failed' && <span class="meta"> ({t('live.turnFailed')})</span>}
              </li>
            ))}
          </ol>
          {state.recordingId && (
            <p>
              <a href={`#/recordings/${state.recordingId}`}>{t('live.openRecording')}</a>
            </p>
          )}
        </section>
      )}
    </>
  );
}
