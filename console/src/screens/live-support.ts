/** What a live session needs besides its socket: audio as base64 for the protocol, and its stored recording. */
import { authFetch } from '../api/client';
import type { RecordingPage } from '../api/types';

/** Bytes as base64, the way the realtime protocol carries audio. */
export function base64(bytes: Uint8Array): string {
  let text = '';
  // String.fromCharCode takes arguments: in slices, well under any engine's argument limit.
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/**
 * Whether the recording a session announced has been stored yet: looked for among the newest
 * recordings rather than fetched, since a 404 until then would be logged as a failed request.
 */
export async function stored(recordingId: string): Promise<boolean> {
  const res = await authFetch('/api/v1/audio?limit=20');
  if (!res.ok) return false;
  const page = (await res.json()) as RecordingPage;
  return page.items.some((item) => item.id === recordingId);
}
