import { describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

const upstream = useFakeUpstream({ each: true });

// An answer is complete at `data: [DONE]`, but its response may end a moment later (the last
// chunk of a chunked body in a packet of its own). Cutting the response there would cost the
// keep-alive connection: the next call to a remote API would pay a new TCP and TLS handshake.
describe.each(['undici', 'fetch'] as const)('the OpenAI adapter over %s, at [DONE]', (http) => {
  it('answers at once, reads the response to its end and leaves the connection open for the next call', async () => {
    const { post } = await buildTestApp(upstream, { provider: 'openai' }, { http });
    let end!: () => void;
    upstream.reply({ text: ['Hi'], endAfter: new Promise<void>((resolve) => (end = resolve)) }, { text: ['again'] });
    const first = await post('/user_request', { input: 'hi' });
    expect((await first.json()).message).toBe('Hi');
    end();
    const second = await post('/user_request', { input: 'again' });
    expect((await second.json()).message).toBe('again');
    // The second exchange came and went: a close of the first connection would have been seen.
    expect(upstream.chatRequests()[0].connectionOpen()).toBe(true);
  });
});
