import type {} from '@fastify/multipart';
import { rm } from 'node:fs/promises';
import type { FastifyRequest } from 'fastify';
import { AppError, type FieldError } from '../http/errors.js';
import { receiveAudio, type AudioIntakeOptions, type ReceivedAudio } from './audio-intake.js';
import type { AudioFields } from './service.js';

const LANGUAGE = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;
const FIELDS = ['title', 'language', 'source'] as const;

/**
 * Reads a multipart upload part by part: the file streams to disk as it arrives (fields may come
 * before or after it), then the fields are checked like a JSON body would be.
 */
export async function readAudioForm(
  request: FastifyRequest,
  intake: AudioIntakeOptions,
): Promise<{ audio: ReceivedAudio; fields: AudioFields; filename: string | undefined }> {
  let audio: ReceivedAudio | undefined;
  let filename: string | undefined;
  const fields: Record<string, string> = {};
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
        fields[part.fieldname] = part.value;
      }
    }
    if (!audio) {
      throw new AppError('validation_failed', 'The form has no file part', [{ field: 'file', message: 'is required' }]);
    }
    return { audio, fields: checkFields(fields), filename };
  } catch (error) {
    if (audio) await rm(audio.tempPath, { force: true });
    throw error;
  }
}

function checkFields(raw: Record<string, string>): AudioFields {
  const problems: FieldError[] = [];
  const title = raw.title?.trim();
  if (title !== undefined && (title === '' || title.length > 500)) {
    problems.push({ field: 'title', message: 'must be 1 to 500 characters, not blank' });
  }
  const language = raw.language?.trim() || undefined;
  if (language !== undefined && (!LANGUAGE.test(language) || language.length > 35)) {
    problems.push({ field: 'language', message: 'must be a BCP 47 language tag such as "es" or "en-US"' });
  }
  const source = raw.source?.trim() || undefined;
  if (source !== undefined && source.length > 64) problems.push({ field: 'source', message: 'must be at most 64 characters' });
  for (const name of Object.keys(raw)) {
    if (!(FIELDS as readonly string[]).includes(name)) problems.push({ field: name, message: 'is not a known field' });
  }
  if (problems.length > 0) {
    throw new AppError('validation_failed', `Invalid form: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`, problems);
  }
  return { title: title || undefined, language, source };
}
