/**
 * A fake OpenAI-compatible speech server on 127.0.0.1 that parses each multipart upload, so tests
 * can check which fields the openai engine (through the official SDK) really sent.
 */
import type { IncomingMessage } from 'node:http';
import { recordingServer, type RecordedRequest, type RecordingServer, type RequestHandler } from './fake-server.js';

export interface SpeechRequest extends RecordedRequest {
  /** Every text field with all its values, in the order sent (`known_speaker_names[]` repeats). */
  fields: Map<string, string[]>;
  file: { name: string; type: string; bytes: Buffer } | null;
}

export type SpeechHandler = RequestHandler<SpeechRequest>;

export interface FakeSpeech extends RecordingServer<SpeechRequest> {
  /** http://127.0.0.1:port/v1, as STT_BASE_URL takes it. */
  baseUrl: string;
}

async function multipartBody(raw: Buffer, req: IncomingMessage): Promise<Pick<SpeechRequest, 'fields' | 'file'>> {
  const fields = new Map<string, string[]>();
  let file: SpeechRequest['file'] = null;
  const contentType = req.headers['content-type'] ?? '';
  if (contentType.startsWith('multipart/form-data')) {
    const form = await new Request('http://fake', { method: 'POST', headers: { 'content-type': contentType }, body: raw }).formData();
    for (const [key, value] of form.entries()) {
      if (typeof value === 'string') fields.set(key, [...(fields.get(key) ?? []), value]);
      else file = { name: value.name, type: value.type, bytes: Buffer.from(await value.arrayBuffer()) };
    }
  }
  return { fields, file };
}

export async function fakeSpeech(handler: SpeechHandler): Promise<FakeSpeech> {
  const server = await recordingServer(multipartBody, handler);
  return { ...server, baseUrl: `${server.origin}/v1` };
}

/** OpenAI's diarized_json body for `segments` (times relative to the upload). */
export function diarizedBody(segments: Array<{ start: number; end: number; text: string; speaker: string }>, duration: number) {
  return {
    task: 'transcribe',
    duration,
    text: segments.map((s) => s.text).join(' '),
    segments: segments.map((s, i) => ({ type: 'transcript.text.segment', id: `seg_${i}`, ...s })),
    usage: { type: 'duration', seconds: duration },
  };
}
