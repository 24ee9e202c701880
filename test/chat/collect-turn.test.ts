import { describe, expect, it } from 'vitest';
import { createHold } from '../helpers/fake-upstream.js';
import { parseSse } from '../helpers/sse.js';
import { buildTestApp } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

const upstream = useFakeUpstream();

describe('a JSON request whose client is gone before its turn is followed', () => {
  it('leaves the turn at once: with no resume grace, the upstream request is aborted', async () => {
    const { app } = await buildTestApp(upstream, { resumeGrace: 0 });
    const hold = createHold(1);
    upstream.reply({ text: ['never', ' finished'], holds: [hold] });
    const response = await app.request(
      new Request('http://localhost/user_request', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ input: 'hi' }),
        signal: AbortSignal.abort(),
      }),
    );
    expect(response.status).toBe(499);
    // The hold is never released: only the turn's stop can end it. Following the session shows
    // the turn stopped (or already over); without the stop it would wait forever.
    const follow = await app.request('/events');
    if (follow.status === 200) expect(parseSse(await follow.text()).at(-1)?.data.stopped).toBe(true);
    else expect(follow.status).toBe(204);
    await Promise.all(upstream.chatRequests().map((request) => request.closed));
  });
});
