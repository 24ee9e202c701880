// A fast fake OpenAI-compatible upstream for the benchmark. The model name says what to do:
//   "fast:N"  N content chunks, one token each, each in its own write
//   "fast:N:K" N content chunks, K of them in each write (as upstreams that batch do)
//   "slow"    one token, then the stream stays open until the client goes away
//   "tool"    a call of the `count` tool first; a request that carries its result gets "ok"
import { createServer } from 'node:http';

const head =
  'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1753343173,"model":"bench","choices":[{"index":0,"delta":';
const tail = ',"logprobs":null,"finish_reason":null}]}\n\n';
const token = `${head}{"content":"tok "}${tail}`;
const first = `${head}{"role":"assistant","content":""}${tail}`;
const finish = (reason) =>
  `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1753343173,"model":"bench","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"${reason}"}]}\n\n` +
  'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1753343173,"model":"bench","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":10,"total_tokens":20}}\n\ndata: [DONE]\n\n';
const toolCall = `${head}{"tool_calls":[{"index":0,"id":"call_bench","type":"function","function":{"name":"count","arguments":"{}"}}]}${tail}`;

const server = createServer((request, response) => {
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString() || '{}');
    response.socket.setNoDelay(true);
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    response.write(first);
    const model = String(body.model ?? '');
    if (model === 'slow') {
      response.write(token);
      return;
    }
    if (model === 'tool') {
      const answered = (body.messages ?? []).some((message) => message.role === 'tool');
      response.end(answered ? `${token}${finish('stop')}` : `${toolCall}${finish('tool_calls')}`);
      return;
    }
    const [, count, perWrite] = model.split(':');
    let left = Number(count ?? 100);
    const batch = Math.max(1, Number(perWrite ?? 1));
    const next = () => {
      if (response.destroyed) return;
      if (left === 0) {
        response.end(finish('stop'));
        return;
      }
      const now = Math.min(batch, left);
      left -= now;
      response.write(now === 1 ? token : token.repeat(now));
      setImmediate(next);
    };
    next();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.send?.({ port: server.address().port }));
