import { useEffect, useRef, useState } from 'preact/hooks';
import { clock } from '../format';
import { useI18n, type MessageKey } from '../i18n';

/** webm/opus where the browser records it (Chromium, Firefox), else whatever it records by default (Safari: mp4). */
function recorderType(): string | undefined {
  return ['audio/webm;codecs=opus', 'audio/webm', 'audio/ogg;codecs=opus'].find((type) => MediaRecorder.isTypeSupported(type));
}

function extensionOf(type: string): string {
  if (type.includes('webm')) return 'webm';
  if (type.includes('ogg')) return 'ogg';
  if (type.includes('mp4')) return 'm4a';
  return 'audio';
}

function micProblem(error: unknown): MessageKey {
  const name = error instanceof DOMException ? error.name : '';
  if (name === 'NotAllowedError') return 'live.micDenied';
  if (name === 'NotFoundError') return 'live.noMic';
  return 'live.micFailed';
}

/**
 * Record / Stop from the microphone with MediaRecorder, the elapsed time shown meanwhile; the
 * recording is then handed over as a file, as if it had been dropped.
 */
export function Recorder({ onRecorded, disabled }: { onRecorded: (file: File) => void; disabled?: boolean }) {
  const { t } = useI18n();
  const [recording, setRecording] = useState(false);
  const [seconds, setSeconds] = useState(0);
  const [error, setError] = useState<MessageKey | null>(null);
  const recorder = useRef<MediaRecorder | null>(null);
  const timer = useRef<number | undefined>(undefined);

  const stopTracks = (stream: MediaStream) => {
    for (const track of stream.getTracks()) track.stop();
  };
  // Leaving the page while recording: the microphone is released and nothing is handed over.
  useEffect(
    () => () => {
      clearInterval(timer.current);
      const active = recorder.current;
      if (!active) return;
      active.ondataavailable = null;
      active.onstop = null;
      if (active.state !== 'inactive') active.stop();
      stopTracks(active.stream);
    },
    [],
  );

  const start = async () => {
    setError(null);
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (e) {
      return setError(micProblem(e));
    }
    const type = recorderType();
    const media = new MediaRecorder(stream, type ? { mimeType: type } : {});
    const parts: Blob[] = [];
    media.ondataavailable = (event) => {
      if (event.data.size > 0) parts.push(event.data);
    };
    media.onstop = () => {
      clearInterval(timer.current);
      stopTracks(stream);
      recorder.current = null;
      setRecording(false);
      const mime = media.mimeType || type || 'audio/webm';
      const stamp = new Date().toISOString().slice(0, 19).replace(/:/g, '-');
      onRecorded(new File(parts, `microphone-${stamp}.${extensionOf(mime)}`, { type: mime.split(';')[0] }));
    };
    const began = performance.now();
    setSeconds(0);
    timer.current = window.setInterval(() => setSeconds((performance.now() - began) / 1000), 250);
    media.start(1000);
    recorder.current = media;
    setRecording(true);
  };

  return (
    <div class="recorder">
      {recording ? (
        <button type="button" class="recording" onClick={() => recorder.current?.stop()}>
          {t('recorder.stop')}
        </button>
      ) : (
        <button type="button" disabled={disabled} onClick={() => void start()}>
          {t('recorder.record')}
        </button>
      )}
      {recording && (
        <span class="elapsed" role="timer" aria-label={t('recorder.elapsed')} data-seconds={seconds.toFixed(1)}>
          {clock(seconds)}
        </span>
      )}
      {error && (
        <p role="alert" class="error">
          {t(error)}
        </p>
      )}
    </div>
  );
}
