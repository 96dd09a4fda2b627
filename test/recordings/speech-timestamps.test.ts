import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { describeEachDatabase } from '../helpers/app.js';
import { audioForm, shortClip } from '../helpers/audio.js';
import { bearer, createTextEntry, registerUser } from '../helpers/factory.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'transcribo-speech-ts-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

describeEachDatabase('GET /api/v1/audio/{id}/speech-timestamps', (ctx) => {
  test("a clip padded with 5 s of silence: its speech, where the clip's speech is, plus 5 s", async () => {
    const { app } = ctx();
    const owner = await registerUser(app);
    const padded = path.join(scratch, 'padded.wav');
    execFileSync('sox', [shortClip().wavPath, padded, 'pad', '5', '5']);
    const upload = await app.inject({
      method: 'POST',
      url: '/api/v1/audio/upload',
      headers: bearer(owner.accessToken),
      payload: audioForm(readFileSync(padded), 'padded.wav'),
    });
    assert.equal(upload.statusCode, 201, upload.body);
    const id = upload.json().id as string;

    const res = await app.inject({ method: 'GET', url: `/api/v1/audio/${id}/speech-timestamps`, headers: bearer(owner.accessToken) });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json<{ duration: number; regions: { start: number; end: number }[] }>();
    assert.ok(Math.abs(body.duration - 12.99) < 0.05, String(body.duration));
    assert.equal(body.regions.length, 1, res.body);
    // "he was not an ill disposed young man" runs from about 0.2 s to 2.8 s of the clip.
    assert.ok(body.regions[0]!.start > 5 && body.regions[0]!.start < 5.5, res.body);
    assert.ok(body.regions[0]!.end > 7.4 && body.regions[0]!.end < 8.1, res.body);

    const padding = await app.inject({
      method: 'GET',
      url: `/api/v1/audio/${id}/speech-timestamps?padding_ms=1000`,
      headers: bearer(owner.accessToken),
    });
    assert.equal(padding.statusCode, 200, padding.body);
    assert.ok(Math.abs(padding.json().regions[0].start - (body.regions[0]!.start - 1)) < 0.01, padding.body);

    const bad = await app.inject({ method: 'GET', url: `/api/v1/audio/${id}/speech-timestamps?threshold=2`, headers: bearer(owner.accessToken) });
    assert.equal(bad.statusCode, 422, bad.body);

    const stranger = await registerUser(app);
    const other = await app.inject({ method: 'GET', url: `/api/v1/audio/${id}/speech-timestamps`, headers: bearer(stranger.accessToken) });
    assert.equal(other.statusCode, 404, other.body);
  });

  test('a recording uploaded as text: 409 recording_has_no_audio', async () => {
    const { app } = ctx();
    const user = await registerUser(app);
    const entry = await createTextEntry(app, user);
    const res = await app.inject({ method: 'GET', url: `/api/v1/audio/${entry.id}/speech-timestamps`, headers: bearer(user.accessToken) });
    assert.equal(res.statusCode, 409, res.body);
    assert.equal(res.json().code, 'recording_has_no_audio');
  });
});
