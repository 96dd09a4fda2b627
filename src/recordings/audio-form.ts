import type {} from '@fastify/multipart';
import { rm } from 'node:fs/promises';
import type { FastifyRequest } from 'fastify';
import { AppError, type FieldError } from '../http/errors.js';
import { receiveAudio, type AudioIntakeOptions, type ReceivedAudio } from './audio-intake.js';
import type { AudioFields } from './service.js';
import { refuseNul } from '../http/nul-guard.js';

const LANGUAGE = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;
const UPLOAD_FIELDS = ['title', 'language', 'source'] as const;

export interface AudioForm {
  audio: ReceivedAudio;
  /** Every text field, each with all its values (OpenAI's `timestamp_granularities[]` repeats). */
  fields: Map<string, string[]>;
  filename: string | undefined;
}

export function isLanguageTag(value: string): boolean {
  return value.length <= 35 && LANGUAGE.test(value);
}

/**
 * Reads a multipart form part by part: the file streams to disk as it arrives (text fields may
 * come before or after it). On any failure the received file is removed.
 */
export async function readAudioParts(request: FastifyRequest, intake: AudioIntakeOptions): Promise<AudioForm> {
  let audio: ReceivedAudio | undefined;
  let filename: string | undefined;
  const fields = new Map<string, string[]>();
  try {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        if (part.fieldname !== 'file' || audio) {
          part.file.resume();
          throw new AppError('validation_failed', 'Send exactly one file, in the part named "file"', [
            { field: part.fieldname, message: 'unexpected file part' },
          ]);
        }
        filename = part.filename;
        audio = await receiveAudio(part.file, intake);
      } else if (typeof part.value === 'string') {
        refuseNul(part.value, `body.${part.fieldname}`);
        fields.set(part.fieldname, [...(fields.get(part.fieldname) ?? []), part.value]);
      }
    }
    if (!audio) {
      throw new AppError('validation_failed', 'The form has no file part', [{ field: 'file', message: 'is required' }]);
    }
    return { audio, fields, filename };
  } catch (error) {
    if (audio) await rm(audio.tempPath, { force: true });
    throw error;
  }
}

export function invalidForm(problems: FieldError[]): AppError {
  return new AppError(
    'validation_failed',
    `Invalid form: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`,
    problems,
  );
}

/** Our upload form: the fields of the text path, checked like a JSON body would be. */
export async function readAudioForm(
  request: FastifyRequest,
  intake: AudioIntakeOptions,
): Promise<{ audio: ReceivedAudio; fields: AudioFields; filename: string | undefined }> {
  const form = await readAudioParts(request, intake);
  try {
    return { audio: form.audio, fields: checkUploadFields(form.fields), filename: form.filename };
  } catch (error) {
    await rm(form.audio.tempPath, { force: true });
    throw error;
  }
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
