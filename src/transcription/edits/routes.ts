import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { userIdOf } from '../../http/auth-plugin.js';
import { problemResponses } from '../../http/problem.js';
import { Transcription, TranscriptionParams } from '../schemas.js';
import {
  BulkPatchBody,
  MergeBody,
  SegmentParams,
  SegmentPatchBody,
  SpeakersBody,
  SplitBody,
  VersionDetail,
  VersionPage,
  VersionPageQuery,
  VersionParams,
} from './schemas.js';
import type { EditRequest, Edited, TranscriptEditor } from './service.js';

const tags = ['transcript edits'];

const IF_MATCH_DOC =
  'Send the ETag of the version you read as `If-Match`: an edit against a version that is no longer current is refused ' +
  'with 412 `version_conflict` instead of overwriting the other edit. Every edit answers with the new version and its ETag; ' +
  'one that changes nothing makes no version.';

const edited = { 200: Transcription, ...problemResponses(401, 404, 409, 412, 422) };

function editRequest(request: FastifyRequest<{ Params: { transcription_id: string } }>): EditRequest {
  const ifMatch = request.headers['if-match'];
  return { userId: userIdOf(request), transcriptionId: request.params.transcription_id, ifMatch };
}

function send(reply: FastifyReply, result: Edited) {
  return reply.header('etag', result.etag).send(result.view);
}

/** Mounted under /api/v1/audio inside an authenticated scope. */
export const transcriptEditRoutes: FastifyPluginAsyncTypebox<{ editor: TranscriptEditor }> = async (app, { editor }) => {
  app.patch(
    '/transcription/:transcription_id/segments/:segment_id',
    {
      schema: {
        tags,
        summary: "Correct a segment's text, speaker or times",
        description: `A new version of the transcript. Unchanged words keep their times; changed ones are interpolated and marked \`edited\`. ${IF_MATCH_DOC}`,
        params: SegmentParams,
        body: SegmentPatchBody,
        response: edited,
      },
    },
    async (request, reply) =>
      send(reply, await editor.patch(editRequest(request), [{ id: request.params.segment_id, ...request.body }], () => 'body')),
  );

  app.patch(
    '/transcription/:transcription_id/segments',
    {
      schema: {
        tags,
        summary: 'Correct several segments in one version',
        description: `All changes apply together or none does. ${IF_MATCH_DOC}`,
        params: TranscriptionParams,
        body: BulkPatchBody,
        response: edited,
      },
    },
    async (request, reply) =>
      send(reply, await editor.patch(editRequest(request), request.body.segments, (i) => `segments.${i}`)),
  );

  app.post(
    '/transcription/:transcription_id/segments/:segment_id/split',
    {
      schema: {
        tags,
        summary: 'Split a segment in two at a character offset',
        description: `The first part keeps the segment's id. The cut time is the first word's start when word times exist, otherwise interpolated by characters. ${IF_MATCH_DOC}`,
        params: SegmentParams,
        body: SplitBody,
        response: edited,
      },
    },
    async (request, reply) =>
      send(reply, await editor.split(editRequest(request), request.params.segment_id, request.body.offset)),
  );

  app.post(
    '/transcription/:transcription_id/segments/merge',
    {
      schema: {
        tags,
        summary: 'Merge consecutive segments into the first of them',
        description: `Texts are joined and times span all parts; the first part's speaker stays. ${IF_MATCH_DOC}`,
        params: TranscriptionParams,
        body: MergeBody,
        response: edited,
      },
    },
    async (request, reply) => send(reply, await editor.merge(editRequest(request), request.body.segment_ids)),
  );

  app.put(
    '/transcription/:transcription_id/speakers',
    {
      schema: {
        tags,
        summary: 'Rename speaker labels in every segment at once',
        description: `\`{"speakers": {"SPEAKER_1": "Ana"}}\`: one new version. A label no segment has is 422 \`speaker_not_found\`. ${IF_MATCH_DOC}`,
        params: TranscriptionParams,
        body: SpeakersBody,
        response: edited,
      },
    },
    async (request, reply) => send(reply, await editor.renameSpeakers(editRequest(request), request.body.speakers)),
  );

  app.get(
    '/transcription/:transcription_id/versions',
    {
      schema: {
        tags,
        summary: "A transcript's versions, newest first",
        description:
          'Who made each, when, how, and how many segments it changed. Version 1 is what the engine wrote, and is always kept; ' +
          'of the others, the newest TRANSCRIPT_VERSIONS_KEPT (default 100) are, and older ones are 404.',
        params: TranscriptionParams,
        querystring: VersionPageQuery,
        response: { 200: VersionPage, ...problemResponses(401, 404, 422) },
      },
    },
    async (request) => editor.listVersions(userIdOf(request), request.params.transcription_id, request.query),
  );

  app.get(
    '/transcription/:transcription_id/versions/:version',
    {
      schema: {
        tags,
        summary: 'One version: what it changed (fields before and after) and the whole transcript as it then stood',
        params: VersionParams,
        response: { 200: VersionDetail, ...problemResponses(401, 404, 422) },
      },
    },
    async (request) => editor.getVersion(userIdOf(request), request.params.transcription_id, request.params.version),
  );

  app.post(
    '/transcription/:transcription_id/versions/:version/revert',
    {
      schema: {
        tags,
        summary: 'Restore a version, as a new version',
        description: `History is kept: the revert is the newest version, and can itself be reverted. ${IF_MATCH_DOC}`,
        params: VersionParams,
        response: edited,
      },
    },
    async (request, reply) => send(reply, await editor.revert(editRequest(request), request.params.version)),
  );
};
