/** Postgres text-search configurations by ISO 639-1 code (those shipped with PostgreSQL 15+ and PGlite). */
const CONFIGS: Record<string, string> = {
  ar: 'arabic',
  hy: 'armenian',
  eu: 'basque',
  ca: 'catalan',
  da: 'danish',
  nl: 'dutch',
  en: 'english',
  fi: 'finnish',
  fr: 'french',
  de: 'german',
  el: 'greek',
  hi: 'hindi',
  hu: 'hungarian',
  id: 'indonesian',
  ga: 'irish',
  it: 'italian',
  lt: 'lithuanian',
  ne: 'nepali',
  no: 'norwegian',
  nb: 'norwegian',
  nn: 'norwegian',
  pt: 'portuguese',
  ro: 'romanian',
  ru: 'russian',
  sr: 'serbian',
  es: 'spanish',
  sv: 'swedish',
  ta: 'tamil',
  tr: 'turkish',
  yi: 'yiddish',
};

/** The configuration a transcript in `language` is indexed with; 'simple' (no stemming) when unknown. */
export function searchConfigFor(language: string | null | undefined): string {
  if (!language) return 'simple';
  return CONFIGS[language.toLowerCase().split('-')[0]!] ?? 'simple';
}
