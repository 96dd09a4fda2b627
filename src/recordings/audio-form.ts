import type {} from '@fastify/multipart';
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { errorCodes, type FastifyRequest } from 'fastify';
import type { Static } from 'typebox';
import { AppError, type FieldError } from '../http/errors.js';
import { refuseNul } from '../http/nul-guard.js';
import { stopReadingPast } from '../http/unread-body.js';
import { receiveAudio, type AudioIntakeOptions, type ReceivedAudio } from './audio-intake.js';
import { TextUploadBody } from './schemas.js';
import type { AudioFields } from './service.js';

const LANGUAGE = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;
const UPLOAD_FIELDS = ['title', 'language', 'source'] as const;
/** What a form may carry besides its file: boundaries, part headers and the short text fields. */
const FORM_OVERHEAD_BYTES = 512 * 1024;

export interface AudioForm {
  audio: ReceivedAudio;
  /** Every text field, each with all its values (OpenAI's `timestamp_granularities[]` repeats). */
  fields: Map<string, string[]>;
  filename: string | undefined;
}

/** A form that may hold no file: the seed's text upload (`-F title=… -F original_text=…`). */
type MaybeAudioForm = Omit<AudioForm, 'audio'> & { audio: ReceivedAudio | undefined };

interface PartsOptions {
  /** Longest text field, and most text in all fields together; busboy's fieldSize when unset. */
  maxFieldBytes?: number;
}

export function isLanguageTag(value: string): boolean {
  return value.length <= 35 && LANGUAGE.test(value);
}

function tooLarge(what: string, limit?: number): AppError {
  return new AppError('payload_too_large', `${what} is larger than ${limit === undefined ? 'this form allows' : `the limit of ${limit} bytes`}`);
}

/**
 * Reads a multipart form part by part: the file streams to disk as it arrives (text fields may
 * come before or after it). Reading stops where the route's body limit is crossed: a declared
 * length over it is refused before anything is read, a file that grows past it ends the read with a
 * 413 there and then, and so does a body that goes on past it and the form's overhead anyhow (an
 * endless field, bytes after the last part), which busboy would read to the end. The connection is
 * then closed (http/unread-body.ts). On any failure the received file is removed.
 */
async function readParts(request: FastifyRequest, intake: AudioIntakeOptions, options: PartsOptions = {}): Promise<MaybeAudioForm> {
  const limit = request.routeOptions.bodyLimit;
  if (Number(request.headers['content-length']) > limit + FORM_OVERHEAD_BYTES) throw tooLarge('The upload', limit);
  let audio: ReceivedAudio | undefined;
  let filename: string | undefined;
  let file: Readable | undefined;
  let fieldBytes = 0;
  const fields = new Map<string, string[]>();
  const parts = request.parts(options.maxFieldBytes ? { limits: { fieldSize: options.maxFieldBytes } } : undefined)[Symbol.asyncIterator]();
  // Whatever is pending when reading stops settles (as an error) once the connection closes.
  const next = () => {
    const pending = parts.next().catch((error: unknown) => {
      throw malformed(error);
    });
    pending.catch(() => undefined);
    return pending;
  };
  // The first next() sets up busboy's pipe: only then may the body be watched without losing bytes to it.
  let pending = next();
  let overflowed: (error: AppError) => void = () => undefined;
  const overflow = new Promise<never>((_, reject) => (overflowed = reject));
  overflow.catch(() => undefined);
  const unwatch = stopReadingPast(request.raw, limit + FORM_OVERHEAD_BYTES, () => {
    const error = tooLarge('The upload', limit);
    file?.destroy(error);
    overflowed(error);
  });
  try {
    for (;;) {
      const result = await Promise.race([pending, overflow]);
      if (result.done) break;
      const part = result.value;
      if (part.type === 'file') {
        if (part.fieldname !== 'file' || audio) {
          part.file.resume();
          throw new AppError('validation_failed', 'Send exactly one file, in the part named "file"', [
            { field: part.fieldname, message: 'unexpected file part' },
          ]);
        }
        // busboy stops storing at its fileSize limit but would go on reading (and discarding) the rest.
        part.file.once('limit', () => part.file.destroy(tooLarge('The file', limit)));
        file = part.file;
        filename = part.filename;
        audio = await receiveAudio(part.file, intake);
        file = undefined;
      } else if (typeof part.value === 'string') {
        if (part.valueTruncated) throw tooLarge(`The field ${part.fieldname}`, options.maxFieldBytes);
        fieldBytes += Buffer.byteLength(part.value);
        if (options.maxFieldBytes && fieldBytes > options.maxFieldBytes) throw tooLarge('The text of the form', options.maxFieldBytes);
        refuseNul(part.value, `body.${part.fieldname}`);
        fields.set(part.fieldname, [...(fields.get(part.fieldname) ?? []), part.value]);
      }
      pending = next();
    }
    return { audio, fields, filename };
  } catch (error) {
    if (audio) await rm(audio.tempPath, { force: true });
    throw error;
  } finally {
    unwatch();
  }
}

/**
 * The parser's own failures ('Boundary not found', 'Unexpected end of multipart data', a malformed
 * part header) are the client's: 400. Errors that already carry a client status pass as they are.
 */
function malformed(error: unknown): unknown {
  if (error instanceof AppError) return error;
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status === 'number' && status < 500) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new AppError('bad_request', `The multipart body is malformed: ${reason}`);
}

function noFilePart(hint = ''): AppError {
  return new AppError('validation_failed', `The form has no file part${hint}`, [{ field: 'file', message: 'is required' }]);
}

/**
 * A form with exactly one file part (OpenAI's transcription form). `maxFieldBytes` raises the
 * app-wide 64 KiB field limit where a field may hold more (a voice sample as a data URL).
 */
export async function readAudioParts(request: FastifyRequest, intake: AudioIntakeOptions, options: PartsOptions = {}): Promise<AudioForm> {
  const form = await readParts(request, intake, options);
  if (!form.audio) throw noFilePart();
  return { ...form, audio: form.audio };
}

export function invalidForm(problems: FieldError[]): AppError {
  return new AppError(
    'validation_failed',
    `Invalid form: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`,
    problems,
  );
}

export type UploadForm =
  | { kind: 'audio'; audio: ReceivedAudio; fields: AudioFields; filename: string | undefined }
  | { kind: 'text'; body: Static<typeof TextUploadBody> };

/**
 * Our upload form: a file with the fields of the audio path, or (as the seed's FastAPI `Form()`
 * took it) `original_text` and no file, which is the JSON text upload sent as a form and is
 * checked by the very schema the JSON body is. Its text may be as long as a JSON body may be.
 */
export async function readUploadForm(request: FastifyRequest, intake: AudioIntakeOptions): Promise<UploadForm> {
  const form = await readParts(request, intake, { maxFieldBytes: request.routeOptions.bodyLimit });
  if (!form.audio) {
    if (!form.fields.has('original_text')) throw noFilePart(', and no original_text for a text upload');
    return { kind: 'text', body: checkTextForm(request, form.fields) };
  }
  try {
    return { kind: 'audio', audio: form.audio, fields: checkUploadFields(form.fields), filename: form.filename };
  } catch (error) {
    await rm(form.audio.tempPath, { force: true });
    throw error;
  }
}

/** The form's fields (the last value of each) through the JSON body's own validator, defaults and all. */
function checkTextForm(request: FastifyRequest, raw: Map<string, string[]>): Static<typeof TextUploadBody> {
  const body: Record<string, string> = {};
  for (const [name, values] of raw) body[name] = values.at(-1)!;
  const validate = request.compileValidationSchema(TextUploadBody, 'body');
  if (validate(body)) return body as Static<typeof TextUploadBody>;
  // Shaped as Fastify's own validation failure, so the error handler words it as for a JSON body.
  throw Object.assign(new errorCodes.FST_ERR_VALIDATION('body is invalid'), {
    validation: validate.errors ?? [],
    validationContext: 'body',
  });
}

function checkUploadFields(raw: Map<string, string[]>): AudioFields {
  const problems: FieldError[] = [];
  const one = (name: string) => raw.get(name)?.at(-1)?.trim();
  const title = one('title');
  if (title !== undefined && (title === '' || title.length > 500)) {
    problems.push({ field: 'title', message: 'must be 1 to 500 characters, not blank' });
  }
  const language = one('language') || undefined;
  if (language !== undefined && !isLanguageTag(language)) {
    problems.push({ field: 'language', message: 'must be a BCP 47 language tag such as "es" or "en-US"' });
  }
  const source = one('source') || undefined;
  if (source !== undefined && source.length > 64) problems.push({ field: 'source', message: 'must be at most 64 characters' });
  for (const name of raw.keys()) {
    if (!(UPLOAD_FIELDS as readonly string[]).includes(name)) problems.push({ field: name, message: 'is not a known field' });
  }
  if (problems.length > 0) throw invalidForm(problems);
  return { title: title || undefined, language, source };
}
