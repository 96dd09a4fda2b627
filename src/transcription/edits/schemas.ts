import { Type } from 'typebox';
import { Nullable } from '../../http/schemas.js';
import { Segment } from '../schemas.js';
import { MAX_SEGMENT_TEXT, MAX_SPEAKER_LABEL } from './operations.js';

const Uuid = Type.String({ format: 'uuid' });
/** Requests that change several segments at once are bounded like every other body. */
const MAX_SEGMENTS_PER_EDIT = 1_000;

export const SegmentParams = Type.Object({ transcription_id: Uuid, segment_id: Uuid });
export const VersionParams = Type.Object({ transcription_id: Uuid, version: Type.Integer({ minimum: 1 }) });

const Speaker = Nullable(Type.String({ minLength: 1, maxLength: MAX_SPEAKER_LABEL }));

const PatchFields = {
  text: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_SEGMENT_TEXT, description: 'Word times realign: unchanged words keep theirs' })),
  speaker: Type.Optional(Type.Union([Speaker], { description: 'null clears the label' })),
  start: Type.Optional(Type.Number({ minimum: 0, description: 'Seconds; word times are rescaled with the segment' })),
  end: Type.Optional(Type.Number({ minimum: 0 })),
};

export const SegmentPatchBody = Type.Object(PatchFields, { additionalProperties: false, minProperties: 1 });

export const BulkPatchBody = Type.Object(
  {
    segments: Type.Array(Type.Object({ id: Uuid, ...PatchFields }, { additionalProperties: false, minProperties: 2 }), {
      minItems: 1,
      maxItems: MAX_SEGMENTS_PER_EDIT,
    }),
  },
  { additionalProperties: false },
);

export const SplitBody = Type.Object(
  {
    offset: Type.Integer({
      minimum: 1,
      description: "Character offset in the segment's text where the second part starts (moved to the end of a word it falls in)",
    }),
  },
  { additionalProperties: false },
);

export const MergeBody = Type.Object(
  { segment_ids: Type.Array(Uuid, { minItems: 2, maxItems: MAX_SEGMENTS_PER_EDIT, description: 'Consecutive segments' }) },
  { additionalProperties: false },
);

export const SpeakersBody = Type.Object(
  {
    speakers: Type.Record(Type.String({ minLength: 1, maxLength: MAX_SPEAKER_LABEL }), Speaker, {
      minProperties: 1,
      maxProperties: 200,
      description: 'Old label → new label (null clears it), e.g. {"SPEAKER_1": "Ana"}',
    }),
  },
  { additionalProperties: false },
);

export const VersionPageQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  cursor: Type.Optional(Type.Integer({ minimum: 1, description: 'The next_cursor of the previous page' })),
});

const ChangedFields = Type.Record(Type.String(), Type.Unknown());

export const SegmentChange = Type.Object({
  segment_id: Uuid,
  op: Type.Union([Type.Literal('update'), Type.Literal('insert'), Type.Literal('delete')]),
  before: Type.Optional(ChangedFields),
  after: Type.Optional(ChangedFields),
});

const VersionFields = {
  version: Type.Integer({ minimum: 1 }),
  action: Type.Union(
    [
      Type.Literal('transcribed'),
      Type.Literal('edit'),
      Type.Literal('split'),
      Type.Literal('merge'),
      Type.Literal('speakers'),
      Type.Literal('revert'),
    ],
    {
      description: 'transcribed: what the engine (or the text upload) wrote',
    },
  ),
  author_id: Nullable(Type.String({ format: 'uuid', description: 'The user whose request made it; null for version 1' })),
  reverted_to: Nullable(Type.Integer({ description: 'The version a revert restored' })),
  created_at: Type.String({ format: 'date-time' }),
};

export const VersionSummary = Type.Object({
  ...VersionFields,
  changed_segments: Type.Integer({ minimum: 0 }),
});

export const VersionPage = Type.Object({
  current_version: Type.Integer({ minimum: 1 }),
  items: Type.Array(VersionSummary),
  next_cursor: Nullable(Type.String({ description: 'Pass as cursor to get the next (older) page; null on the last page' })),
});

export const VersionDetail = Type.Object({
  ...VersionFields,
  changes: Type.Array(SegmentChange),
  text: Type.String(),
  segments: Type.Array(Segment),
});
