import { useI18n } from '../i18n';

/** Below this the engine was unsure of the word: it is marked for a second look. */
export const LOW_CONFIDENCE = 0.6;

export function isLowConfidence(word: { confidence?: number }): boolean {
  return word.confidence !== undefined && word.confidence < LOW_CONFIDENCE;
}

/** A transcript word that seeks the player; marked (with its confidence, also for screen readers) when the engine was unsure. */
export function WordSpan(props: { word: { word: string; start: number; confidence?: number }; onSeek: (time: number) => void }) {
  const { word, onSeek } = props;
  const { t } = useI18n();
  const low = isLowConfidence(word);
  const note = low ? t('confidence.low', { percent: Math.round((word.confidence ?? 0) * 100) }) : undefined;
  return (
    <span
      class={low ? 'word low-confidence' : 'word'}
      data-start={word.start}
      data-confidence={word.confidence}
      title={note}
      onClick={(e) => {
        e.stopPropagation();
        onSeek(word.start);
      }}
    >
      {word.word.trim()}
      {note && <span class="visually-hidden"> ({note})</span>}
    </span>
  );
}
