import type { paths } from './schema';

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never;

export type RecordingPage = Json<paths['/api/v1/audio']['get']['responses'][200]>;
export type Recording = RecordingPage['items'][number];
export type RecordingDetail = Json<paths['/api/v1/audio/{id}']['get']['responses'][200]>;
export type Transcription = Json<paths['/api/v1/audio/transcription/{transcription_id}/segments/{segment_id}']['patch']['responses'][200]>;
export type Segment = Transcription['segments'][number];
export type SearchHit = Json<paths['/api/v1/search']['get']['responses'][200]>['items'][number];
export type Version = Json<paths['/api/v1/audio/transcription/{transcription_id}/versions']['get']['responses'][200]>['items'][number];
export type TranscribeBody = NonNullable<paths['/api/v1/audio/{id}/transcribe']['post']['requestBody']>['content']['application/json'];
/** A citation of a chat answer, stored (a session's messages) or streamed (the `done` event). */
export type ChatCitation = NonNullable<
  Json<paths['/api/v1/chat/sessions/{id}']['get']['responses'][200]>['messages'][number]['citations']
>[number];
