import { useEffect, useRef, useState } from 'preact/hooks';
import { useI18n } from '../i18n';

/** A secret shown once, read-only, with a copy button; it is gone from the page once dismissed. */
export function ShownOnce({ label, value, onDone }: { label: string; value: string; onDone: () => void }) {
  const { t } = useI18n();
  const [copied, setCopied] = useState(false);
  const field = useRef<HTMLInputElement>(null);
  // Focus (which selects it) so a keyboard or screen-reader user lands on what must be copied now.
  useEffect(() => field.current?.focus(), [value]);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(true);
    } catch {
      // No clipboard (an insecure origin, or refused): the field is selected for a manual copy.
      field.current?.select();
    }
  };
  return (
    <div class="shown-once" role="status">
      <label>
        {label}
        <input ref={field} readOnly value={value} onFocus={(e) => e.currentTarget.select()} />
      </label>
      <p class="meta">{t('account.shownOnce')}</p>
      <div class="row">
        <button type="button" onClick={() => void copy()}>
          {copied ? t('account.copied') : t('account.copy')}
        </button>
        <button type="button" class="small" onClick={onDone}>
          {t('account.done')}
        </button>
      </div>
    </div>
  );
}
