import type { FastifyReply } from 'fastify';
import { AppError } from '../http/errors.js';
import { jsonStream } from '../http/json-stream.js';
import { CONTENT_TYPES, hasTimes, toSrt, toText, toVerboseJson, toVtt, type FormatInput, type OutputFormat } from './formats.js';
import type { TranscriptionView } from './view.js';

export function formatInput(view: TranscriptionView): FormatInput {
  return {
    text: view.text ?? '',
    language: view.language,
    duration: view.duration_seconds,
    segments: view.segments.map((s) => ({
      start: s.start,
      end: s.end,
      text: s.text,
      words: s.words,
      speaker: s.speaker,
      avg_logprob: s.avg_logprob,
      compression_ratio: s.compression_ratio,
      no_speech_prob: s.no_speech_prob,
      temperature: s.temperature,
    })),
  };
}

/** Sends a transcription in the asked format: our JSON, or OpenAI's text/subtitle/verbose shapes. */
export function sendTranscription(reply: FastifyReply, view: TranscriptionView, format: OutputFormat): FastifyReply {
  // Streamed: a transcript of 10,000 segments would otherwise be serialised in one blocking piece.
  if (format === 'json') return reply.type('application/json; charset=utf-8').send(jsonStream(view));
  if (view.status !== 'completed') {
    throw new AppError('transcription_not_ready', `The transcription is ${view.status}; only completed ones render as ${format}`);
  }
  const input = formatInput(view);
  if (format !== 'text' && !hasTimes(input)) {
    throw new AppError('timestamps_unavailable', `This transcript has no timestamps (it was uploaded as text), so it cannot render as ${format}`);
  }
  switch (format) {
    case 'text':
      return reply.type(CONTENT_TYPES.text).send(toText(input));
    case 'srt':
      return reply.type(CONTENT_TYPES.srt).send(toSrt(input));
    case 'vtt':
      return reply.type(CONTENT_TYPES.vtt).send(toVtt(input));
    case 'verbose_json':
      // A string with a JSON content type is sent as it is, past the route's JSON schema.
      return reply.type('application/json; charset=utf-8').send(JSON.stringify(toVerboseJson(input)));
  }
}
