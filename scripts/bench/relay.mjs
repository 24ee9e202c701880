// A plain relay, as a user would write one in a few lines: Hono and the official openai client,
// passing /v1/chat/completions streams through chunk by chunk. No sessions, tools or approvals:
// what start-up time and idle memory cost without them.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: `${process.argv[2]}/v1`, apiKey: 'unused' });
const app = new Hono();
app.get('/health', (c) => c.json({ status: 'ok' }));
app.post('/v1/chat/completions', async (c) => {
  const body = await c.req.json();
  const chunks = await client.chat.completions.create({ ...body, stream: true }, { signal: c.req.raw.signal });
  return streamSSE(c, async (sse) => {
    for await (const chunk of chunks) await sse.writeSSE({ data: JSON.stringify(chunk) });
    await sse.writeSSE({ data: '[DONE]' });
  });
});
serve({ fetch: app.fetch, hostname: '127.0.0.1', port: Number(process.env.PORT ?? 0) }, (info) =>
  process.send?.({ port: info.port }),
);
