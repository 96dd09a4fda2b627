import { EngineError } from './engine.js';

/** whisper.cpp's language codes, in token order (index = language id). */
export const WHISPER_LANGUAGES = [
  'en', 'zh', 'de', 'es', 'ru', 'ko', 'fr', 'ja', 'pt', 'tr', 'pl', 'ca', 'nl', 'ar', 'sv', 'it', 'id', 'hi',
  'fi', 'vi', 'he', 'uk', 'el', 'ms', 'cs', 'ro', 'da', 'hu', 'ta', 'no', 'th', 'ur', 'hr', 'bg', 'lt', 'la',
  'mi', 'ml', 'cy', 'sk', 'te', 'fa', 'lv', 'bn', 'sr', 'az', 'sl', 'kn', 'et', 'mk', 'br', 'eu', 'is', 'hy',
  'ne', 'mn', 'bs', 'kk', 'sq', 'sw', 'gl', 'mr', 'pa', 'si', 'km', 'sn', 'yo', 'so', 'af', 'oc', 'ka', 'be',
  'tg', 'sd', 'gu', 'am', 'yi', 'lo', 'uz', 'fo', 'ht', 'ps', 'tk', 'nn', 'mt', 'sa', 'lb', 'my', 'bo', 'tl',
  'mg', 'as', 'tt', 'haw', 'ln', 'ha', 'ba', 'jw', 'su', 'yue',
] as const;

/** The whisper code to request, or null to detect it. */
export function checkLanguage(
  requested: string | undefined,
  model: { multilingual: boolean; languageCount: number },
  modelName: string,
): string | null {
  if (requested === undefined || requested.trim() === '') return model.multilingual ? null : 'en';
  const primary = requested.trim().toLowerCase().split(/[-_]/)[0]!;
  const code = primary === 'jv' ? 'jw' : primary; // whisper's Javanese is "jw"
  const index = (WHISPER_LANGUAGES as readonly string[]).indexOf(code);
  if (index < 0 || index >= model.languageCount) {
    const why = model.multilingual
      ? `the whisper model ${modelName} does not know the language "${requested}"`
      : `the whisper model ${modelName} is English-only; choose a multilingual model (one without .en) ` +
        `to transcribe "${requested}"`;
    throw new EngineError(why, 'language_not_supported');
  }
  return code;
}

/** whisper.cpp's code → ISO 639-1 (only Javanese differs). */
export function fromWhisperLanguage(code: string | null): string | null {
  if (!code) return null;
  return code === 'jw' ? 'jv' : code;
}
