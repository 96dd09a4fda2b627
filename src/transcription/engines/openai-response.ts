import type { WordTiming } from '../../db/schema.js';
import type { EngineSegment } from './engine.js';

/** A verbose_json reply, unchecked: servers differ in what they fill in. */
export interface VerboseResponse {
  text?: unknown;
  language?: unknown;
  segments?: unknown;
  words?: unknown;
}

/** Whisper reports languages by name in verbose_json; EngineResult wants ISO 639-1. */
const WHISPER_LANGUAGES: Record<string, string> = Object.fromEntries(
  (
    'en english,zh chinese,de german,es spanish,ru russian,ko korean,fr french,ja japanese,pt portuguese,' +
    'tr turkish,pl polish,ca catalan,nl dutch,ar arabic,sv swedish,it italian,id indonesian,hi hindi,' +
    'fi finnish,vi vietnamese,he hebrew,uk ukrainian,el greek,ms malay,cs czech,ro romanian,da danish,' +
    'hu hungarian,ta tamil,no norwegian,th thai,ur urdu,hr croatian,bg bulgarian,lt lithuanian,la latin,' +
    'mi maori,ml malayalam,cy welsh,sk slovak,te telugu,fa persian,lv latvian,bn bengali,sr serbian,' +
    'az azerbaijani,sl slovenian,kn kannada,et estonian,mk macedonian,br breton,eu basque,is icelandic,' +
    'hy armenian,ne nepali,mn mongolian,bs bosnian,kk kazakh,sq albanian,sw swahili,gl galician,' +
    'mr marathi,pa punjabi,si sinhala,km khmer,sn shona,yo yoruba,so somali,af afrikaans,oc occitan,' +
    'ka georgian,be belarusian,tg tajik,sd sindhi,gu gujarati,am amharic,yi yiddish,lo lao,uz uzbek,' +
    'fo faroese,ht haitian creole,ps pashto,tk turkmen,nn nynorsk,mt maltese,sa sanskrit,' +
    'lb luxembourgish,my myanmar,bo tibetan,tl tagalog,mg malagasy,as assamese,tt tatar,haw hawaiian,' +
    'ln lingala,ha hausa,ba bashkir,jw javanese,su sundanese,yue cantonese'
  )
    .split(',')
    .map((pair) => {
      const space = pair.indexOf(' ');
      return [pair.slice(space + 1), pair.slice(0, space)];
    }),
);

function languageCode(reported: unknown): string | null {
  if (typeof reported !== 'string' || reported.trim() === '') return null;
  const lower = reported.trim().toLowerCase();
  if (WHISPER_LANGUAGES[lower]) return WHISPER_LANGUAGES[lower];
  if (/^[a-z]{2,3}([-_][a-z0-9]+)*$/.test(lower)) return lower.split(/[-_]/)[0]!;
  return null;
}

function finiteNumber(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** The decoding figures a verbose_json segment reports; those it leaves out (or garbles) stay unknown. */
function segmentScores(raw: unknown): Pick<EngineSegment, 'avgLogprob' | 'compressionRatio' | 'noSpeechProb' | 'temperature'> {
  const s = raw as { avg_logprob?: unknown; compression_ratio?: unknown; no_speech_prob?: unknown; temperature?: unknown };
  const scores: ReturnType<typeof segmentScores> = {};
  const avgLogprob = finiteNumber(s.avg_logprob);
  const compressionRatio = finiteNumber(s.compression_ratio);
  const noSpeechProb = finiteNumber(s.no_speech_prob);
  const temperature = finiteNumber(s.temperature);
  if (avgLogprob !== null) scores.avgLogprob = avgLogprob;
  if (compressionRatio !== null) scores.compressionRatio = compressionRatio;
  if (noSpeechProb !== null) scores.noSpeechProb = noSpeechProb;
  if (temperature !== null) scores.temperature = temperature;
  return scores;
}

/**
 * Maps one verbose_json response to segments in the input's time (adding `offset`), clamped to the
 * chunk's span. Words go to the segment containing their midpoint, or the nearest one.
 */
export function mapVerbose(
  response: VerboseResponse | string,
  offset: number,
  chunkDuration: number,
  withWords: boolean,
): { segments: EngineSegment[]; text: string; language: string | null } {
  const body: VerboseResponse = typeof response === 'string' ? { text: response } : (response ?? {});
  const clamp = (t: number) => Math.min(offset + chunkDuration, Math.max(offset, offset + t));
  const text = typeof body.text === 'string' ? body.text.trim() : '';

  const words: WordTiming[] = [];
  if (withWords && Array.isArray(body.words)) {
    for (const raw of body.words as unknown[]) {
      const w = raw as { word?: unknown; start?: unknown; end?: unknown };
      const start = finiteNumber(w.start);
      const end = finiteNumber(w.end);
      if (typeof w.word !== 'string' || w.word.trim() === '' || start === null || end === null) continue;
      const s = clamp(start);
      words.push({ word: w.word.trim(), start: s, end: Math.max(s, clamp(end)) });
    }
    words.sort((a, b) => a.start - b.start);
  }

  let segments: EngineSegment[] = [];
  if (Array.isArray(body.segments)) {
    for (const raw of body.segments as unknown[]) {
      const s = raw as { start?: unknown; end?: unknown; text?: unknown };
      const start = finiteNumber(s.start);
      const end = finiteNumber(s.end);
      const segmentText = typeof s.text === 'string' ? s.text.trim() : '';
      if (start === null || end === null || segmentText === '') continue;
      const from = clamp(start);
      segments.push({ start: from, end: Math.max(from, clamp(end)), text: segmentText, ...segmentScores(raw) });
    }
    segments.sort((a, b) => a.start - b.start);
  }
  if (segments.length === 0 && text !== '') {
    // Servers that leave segments out: one segment for the chunk, spanning its words when known.
    segments = [
      {
        start: words.length > 0 ? words[0]!.start : offset,
        end: words.length > 0 ? words[words.length - 1]!.end : offset + chunkDuration,
        text,
      },
    ];
  }

  if (withWords) {
    for (const segment of segments) segment.words = [];
    for (const word of words) {
      const mid = (word.start + word.end) / 2;
      let target = segments.find((s) => mid >= s.start && mid <= s.end);
      if (!target) {
        let bestDistance = Infinity;
        for (const s of segments) {
          const distance = mid < s.start ? s.start - mid : mid - s.end;
          if (distance < bestDistance) {
            bestDistance = distance;
            target = s;
          }
        }
      }
      target?.words?.push(word);
    }
  }

  return {
    segments,
    text: text !== '' ? text : segments.map((s) => s.text).join(' '),
    language: languageCode(body.language),
  };
}
