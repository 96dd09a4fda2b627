import { useEffect, useState } from 'preact/hooks';

/**
 * Spanish and English, a dictionary each. English is the reference: a key missing in Spanish is a
 * type error. The language follows the browser until the user picks one (kept in localStorage).
 */
const en = {
  'app.title': 'Transcribo',
  'app.language': 'Language',
  'app.logout': 'Log out',
  'app.docs': 'API docs',
  'auth.login': 'Log in',
  'auth.register': 'Create account',
  'auth.email': 'E-mail',
  'auth.password': 'Password',
  'auth.toRegister': 'No account yet? Create one',
  'auth.toLogin': 'Already have an account? Log in',
  'auth.signedInAs': 'Signed in as {email}',
  'common.loading': 'Loading…',
  'common.error': 'Something went wrong: {detail}',
  'common.cancel': 'Cancel',
  'common.save': 'Save',
  'common.back': 'Back to recordings',
  'list.heading': 'Recordings',
  'list.empty': 'No recordings yet. Upload one above.',
  'list.more': 'Load more',
  'list.search': 'Search transcripts',
  'list.searchButton': 'Search',
  'list.clearSearch': 'Clear search',
  'list.results': 'Search results',
  'list.noResults': 'Nothing found for “{q}”.',
  'list.duration': 'Duration',
  'list.created': 'Created',
  'list.kindText': 'text',
  'list.kindAudio': 'audio',
  'upload.heading': 'Add a recording',
  'upload.drop': 'Drop an audio file here, or choose one',
  'upload.file': 'Audio file',
  'upload.title': 'Title',
  'upload.language': 'Language (optional, e.g. en, es)',
  'upload.submit': 'Upload',
  'upload.uploading': 'Uploading…',
  'upload.asText': 'Or paste a transcript you already have',
  'upload.text': 'Transcript text',
  'upload.submitText': 'Save text',
  'rec.transcribe': 'Transcribe',
  'rec.engine': 'Engine',
  'rec.engineDefault': 'Server default',
  'rec.language': 'Language (empty: detect)',
  'rec.vad': 'Skip silence (VAD)',
  'rec.status': 'Status: {status}',
  'rec.progress': 'Transcription progress',
  'rec.cancel': 'Cancel transcription',
  'rec.noTranscript': 'Not transcribed yet.',
  'rec.failed': 'The transcription failed: {detail}',
  'tr.heading': 'Transcript',
  'tr.player': 'Audio',
  'tr.edit': 'Edit',
  'tr.editLabel': 'Text of the segment at {time}',
  'tr.speaker': 'Speaker',
  'tr.seek': 'Play from {time}',
  'tr.versions': 'Versions',
  'tr.version': 'Version {version}',
  'tr.revert': 'Revert to this version',
  'tr.current': 'current',
  'tr.export': 'Export',
  'tr.conflict': 'Someone changed this transcript meanwhile; it was reloaded. Try again.',
  'status.queued': 'queued',
  'status.processing': 'processing',
  'status.running': 'running',
  'status.completed': 'completed',
  'status.failed': 'failed',
  'status.cancelled': 'cancelled',
};

export type MessageKey = keyof typeof en;

const es: Record<MessageKey, string> = {
  'app.title': 'Transcribo',
  'app.language': 'Idioma',
  'app.logout': 'Cerrar sesión',
  'app.docs': 'Documentación de la API',
  'auth.login': 'Iniciar sesión',
  'auth.register': 'Crear cuenta',
  'auth.email': 'Correo electrónico',
  'auth.password': 'Contraseña',
  'auth.toRegister': '¿Aún sin cuenta? Crea una',
  'auth.toLogin': '¿Ya tienes cuenta? Inicia sesión',
  'auth.signedInAs': 'Sesión de {email}',
  'common.loading': 'Cargando…',
  'common.error': 'Algo salió mal: {detail}',
  'common.cancel': 'Cancelar',
  'common.save': 'Guardar',
  'common.back': 'Volver a las grabaciones',
  'list.heading': 'Grabaciones',
  'list.empty': 'Aún no hay grabaciones. Sube una arriba.',
  'list.more': 'Cargar más',
  'list.search': 'Buscar en las transcripciones',
  'list.searchButton': 'Buscar',
  'list.clearSearch': 'Borrar la búsqueda',
  'list.results': 'Resultados',
  'list.noResults': 'Nada encontrado para «{q}».',
  'list.duration': 'Duración',
  'list.created': 'Creada',
  'list.kindText': 'texto',
  'list.kindAudio': 'audio',
  'upload.heading': 'Añadir una grabación',
  'upload.drop': 'Suelta aquí un archivo de audio, o elige uno',
  'upload.file': 'Archivo de audio',
  'upload.title': 'Título',
  'upload.language': 'Idioma (opcional, p. ej. es, en)',
  'upload.submit': 'Subir',
  'upload.uploading': 'Subiendo…',
  'upload.asText': 'O pega una transcripción que ya tengas',
  'upload.text': 'Texto de la transcripción',
  'upload.submitText': 'Guardar texto',
  'rec.transcribe': 'Transcribir',
  'rec.engine': 'Motor',
  'rec.engineDefault': 'El del servidor',
  'rec.language': 'Idioma (vacío: detectar)',
  'rec.vad': 'Saltar silencios (VAD)',
  'rec.status': 'Estado: {status}',
  'rec.progress': 'Progreso de la transcripción',
  'rec.cancel': 'Cancelar la transcripción',
  'rec.noTranscript': 'Aún sin transcribir.',
  'rec.failed': 'La transcripción falló: {detail}',
  'tr.heading': 'Transcripción',
  'tr.player': 'Audio',
  'tr.edit': 'Editar',
  'tr.editLabel': 'Texto del segmento en {time}',
  'tr.speaker': 'Hablante',
  'tr.seek': 'Reproducir desde {time}',
  'tr.versions': 'Versiones',
  'tr.version': 'Versión {version}',
  'tr.revert': 'Volver a esta versión',
  'tr.current': 'actual',
  'tr.export': 'Exportar',
  'tr.conflict': 'Alguien cambió esta transcripción mientras tanto; se ha recargado. Inténtalo de nuevo.',
  'status.queued': 'en cola',
  'status.processing': 'procesando',
  'status.running': 'en curso',
  'status.completed': 'completada',
  'status.failed': 'fallida',
  'status.cancelled': 'cancelada',
};

export const LOCALES = { en, es } as const;
export type Locale = keyof typeof LOCALES;
const STORAGE_KEY = 'transcribo.locale';

/** The stored choice, else the first of the browser's languages we have, else English. */
export function initialLocale(stored: string | null, browser: readonly string[]): Locale {
  if (stored === 'en' || stored === 'es') return stored;
  for (const tag of browser) {
    const base = tag.toLowerCase().split('-')[0];
    if (base === 'en' || base === 'es') return base;
  }
  return 'en';
}

let current: Locale = initialLocale(readStored(), navigator.languages ?? [navigator.language]);
const listeners = new Set<(locale: Locale) => void>();
document.documentElement.lang = current;

function readStored(): string | null {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export function setLocale(locale: Locale): void {
  current = locale;
  document.documentElement.lang = locale;
  try {
    localStorage.setItem(STORAGE_KEY, locale);
  } catch {
    // Private mode: the choice lasts this page only.
  }
  for (const listener of listeners) listener(locale);
}

export function translate(locale: Locale, key: MessageKey, params: Record<string, string | number> = {}): string {
  return LOCALES[locale][key].replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}

/** The current locale and its translate function; re-renders the component when the locale changes. */
export function useI18n(): { locale: Locale; t: (key: MessageKey, params?: Record<string, string | number>) => string } {
  const [locale, setState] = useState(current);
  useEffect(() => {
    listeners.add(setState);
    return () => void listeners.delete(setState);
  }, []);
  return { locale, t: (key, params) => translate(locale, key, params) };
}
