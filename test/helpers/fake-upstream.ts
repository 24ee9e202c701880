import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A tool call the fake model makes. `arguments` as a string is sent verbatim (e.g. invalid JSON). */
export interface FakeToolCall {
  id?: string;
  name: string;
  arguments: Record<string, unknown> | string;
}

/**
 * What the fake model does for one request:
 * - `text`: answers with these chunks (one wire chunk each), then any `toolCalls`;
 * - `error`: answers with an HTTP error in the provider's own body format;
 * - `midStreamError`: sends `text` chunks, then an in-stream error as the provider does;
 * - `truncate`: sends `text` chunks and ends without finishing;
 * - `hang`: accepts the request and never answers.
 */
export type FakeReply =
  | {
      text?: string[];
      toolCalls?: FakeToolCall[];
      usage?: { prompt: number; completion: number };
      /** Waits this long before each text chunk: a slow model, when slowness is what a test is about. */
      delayMs?: number;
      /** Points where the answer stops until the test releases it (see `createHold`). */
      holds?: Hold[];
      /** Sends each text chunk in two network writes cut inside its first multi-byte character. */
      splitCharacters?: boolean;
      /** Sends every text chunk in one network write, as an upstream that batches tokens does (OpenAI wire only). */
      packed?: boolean;
      /** Ends the response only once this resolves, after `data: [DONE]` has gone (OpenAI wire only). */
      endAfter?: Promise<void>;
    }
  | { error: { status: number; message?: string } }
  | { midStreamError: string; text: string[] }
  | { truncate: true; text: string[] }
  | { hang: true };

/**
 * A point in a streamed answer where the fake upstream stops until the test says go on: the event a
 * test waits for instead of a sleep ("the model has said this much; it is still answering").
 */
export interface Hold {
  /** The index of the text chunk the fake waits before. */
  before: number;
  /** Resolves once every chunk before `before` has been written to the socket. */
  reached: Promise<void>;
  /** Lets the fake send the rest. */
  release(): void;
  /** Resolves when released (used by the fake). */
  released: Promise<void>;
  /** Marks the hold reached (used by the fake). */
  arrive(): void;
}

/** A hold before text chunk `before` (0: before the first chunk, i.e. once the request arrived). */
export function createHold(before: number): Hold {
  let arrive!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((resolve) => {
    arrive = resolve;
  });
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { before, reached, released, arrive, release };
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  /** Resolves when the client closed or finished the connection. */
  closed: Promise<void>;
  /** Whether the connection the request came on is still open (a keep-alive connection outlives its response). */
  connectionOpen(): boolean;
}

const created = '2025-07-07T20:22:19.184789Z';

/**
 * A fake LLM upstream on 127.0.0.1 that speaks Ollama's `/api/chat` (NDJSON), `/api/tags` and `/api/version`, and
 * OpenAI's `/v1/chat/completions` (SSE and JSON) and `/v1/models`, in the formats recorded in
 * shared/WIRE-FORMATS.md, and records every request it gets.
 */
export async function startFakeUpstream() {
  const replies: FakeReply[] = [];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const waiting = new Set<() => void>();

  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: any;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    const closed = new Promise<void>((resolve) => response.on('close', () => resolve()));
    const socket = request.socket;
    const connectionOpen = () => !socket.destroyed;
    requests.push({
      method: request.method ?? '',
      path: request.url ?? '',
      headers: request.headers,
      body,
      closed,
      connectionOpen,
    });
    for (const check of waiting) check();
    const path = (request.url ?? '').split('?')[0];
    if (path === '/api/chat' && request.method === 'POST')
      return ollamaChat(body, replies.shift() ?? { text: ['ok'] }, response);
    if (path === '/v1/chat/completions' && request.method === 'POST') {
      return openaiChat(body, replies.shift() ?? { text: ['ok'] }, response, request.headers.authorization);
    }
    if (path === '/api/tags') return json(response, 200, ollamaTags);
    if (path === '/api/version') return json(response, 200, { version: '0.12.10' });
    if (path === '/v1/models') return json(response, 200, openaiModels);
    response.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found');
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    /** Base URL for Ollama. */
    url,
    /** Base URL for OpenAI-compatible clients. */
    openaiUrl: `${url}/v1`,
    requests,
    /** Queues replies, used one per chat request in order; `{ text: ['ok'] }` when none is queued. */
    reply(...queued: FakeReply[]) {
      replies.push(...queued);
    },
    /** The chat requests received (not model listings). */
    chatRequests: () => requests.filter((request) => request.method === 'POST'),
    /** Resolves with the chat requests once at least `count` have arrived. */
    untilChatRequests(count: number): Promise<RecordedRequest[]> {
      const chat = () => requests.filter((request) => request.method === 'POST');
      return new Promise((resolve) => {
        const check = () => {
          if (chat().length < count) return;
          waiting.delete(check);
          resolve(chat());
        };
        waiting.add(check);
        check();
      });
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type FakeUpstream = Awaited<ReturnType<typeof startFakeUpstream>>;

const ollamaTags = {
  models: [
    {
      name: 'qwen2.5-coder:latest',
      model: 'qwen2.5-coder:latest',
      modified_at: created,
      size: 4683087332,
      digest: 'dae161e27b0e90dd1856c8bb3209201fd6736d8eb66298e75ed87571486f4364',
      details: {
        parent_model: '',
        format: 'gguf',
        family: 'qwen2',
        families: ['qwen2'],
        parameter_size: '7.6B',
        quantization_level: 'Q4_K_M',
      },
    },
  ],
};

const openaiModels = {
  object: 'list',
  data: [{ id: 'gpt-4o-mini', object: 'model', created: 1721172741, owned_by: 'system' }],
};

function json(response: ServerResponse, status: number, body: unknown) {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
}

/**
 * Writes text, optionally in two writes cut inside a multi-byte character, with a pause between so
 * that they reach the reader as two network reads (a pause in the wire, not a wait for an outcome).
 */
async function writeText(response: ServerResponse, text: string, split: boolean) {
  const bytes = Buffer.from(text, 'utf8');
  const cut = bytes.findIndex((byte) => byte >= 0x80 && byte < 0xc0);
  if (!split || cut === -1) {
    response.write(bytes);
    return;
  }
  response.write(bytes.subarray(0, cut));
  await sleep(25);
  response.write(bytes.subarray(cut));
}

const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

/** Before text chunk `index` (or the end, at `text.length`): the reply's delay, then any hold there. */
async function pace(reply: FakeReply, index: number, response: ServerResponse) {
  if ('hang' in reply || 'error' in reply || 'midStreamError' in reply || 'truncate' in reply) return;
  if (reply.delayMs && index < (reply.text?.length ?? 0)) await sleep(reply.delayMs);
  for (const hold of reply.holds ?? []) {
    if (hold.before !== index) continue;
    // Written means flushed: a socket's write callbacks run in order, so this one after the earlier writes'.
    await new Promise<void>((resolve) => (response.socket ? response.socket.write('', () => resolve()) : resolve()));
    hold.arrive();
    await hold.released;
  }
}
const argumentsObject = (call: FakeToolCall) => (typeof call.arguments === 'string' ? {} : call.arguments);
const argumentsString = (call: FakeToolCall) =>
  typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments);

const ollamaErrorTexts: Record<number, (model: string) => string> = {
  400: () => 'model is required',
  404: (model) => `model '${model}' not found`,
  500: () => 'llama runner process has terminated: exit status 2',
  503: () => 'server busy, please try again.  maximum pending requests exceeded',
};

async function ollamaChat(body: any, reply: FakeReply, response: ServerResponse) {
  const model = body?.model ?? '';
  if ('hang' in reply) return;
  if ('error' in reply) {
    const message = reply.error.message ?? ollamaErrorTexts[reply.error.status]?.(model) ?? 'error';
    return json(response, reply.error.status, { error: message });
  }
  const line = (content: string, extra: Record<string, unknown> = {}) =>
    `${JSON.stringify({ model, created_at: created, message: { role: 'assistant', content, ...extra }, done: false })}\n`;
  const text = reply.text ?? [];
  const calls = 'toolCalls' in reply ? (reply.toolCalls ?? []) : [];
  const usage = 'usage' in reply && reply.usage ? reply.usage : { prompt: 26, completion: text.length };
  const final = {
    model,
    created_at: created,
    message: { role: 'assistant', content: '' },
    done: true,
    done_reason: 'stop',
    total_duration: 182242375,
    load_duration: 41295167,
    prompt_eval_count: usage.prompt,
    prompt_eval_duration: 24573166,
    eval_count: usage.completion,
    eval_duration: 115959084,
  };
  const toolCalls = calls.map((call, index) => ({
    ...(call.id ? { id: call.id } : {}),
    function: { index, name: call.name, arguments: argumentsObject(call) },
  }));
  if (body?.stream === false) {
    return json(response, 200, {
      ...final,
      message: { role: 'assistant', content: text.join(''), ...(toolCalls.length ? { tool_calls: toolCalls } : {}) },
    });
  }
  response.writeHead(200, { 'content-type': 'application/x-ndjson' });
  for (const [index, piece] of text.entries()) {
    await pace(reply, index, response);
    if (response.destroyed) return;
    await writeText(response, line(piece), 'splitCharacters' in reply && reply.splitCharacters === true);
  }
  await pace(reply, text.length, response);
  if ('midStreamError' in reply) return response.end(`${JSON.stringify({ error: reply.midStreamError })}\n`);
  if ('truncate' in reply) return response.end();
  for (const call of toolCalls) response.write(line('', { tool_calls: [call] }));
  response.end(`${JSON.stringify(final)}\n`);
}

const openaiErrors: Record<number, { message: string; type: string; code: string | null }> = {
  400: {
    message:
      "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
    type: 'invalid_request_error',
    code: null,
  },
  401: {
    message:
      'Incorrect API key provided: sk-proj-****. You can find your API key at https://platform.openai.com/account/api-keys.',
    type: 'invalid_request_error',
    code: 'invalid_api_key',
  },
  404: {
    message: 'The model `x` does not exist or you do not have access to it.',
    type: 'invalid_request_error',
    code: 'model_not_found',
  },
  429: {
    message:
      'Rate limit reached for gpt-4o-mini in organization org-abc on requests per min (RPM): Limit 3, Used 3, Requested 1.',
    type: 'requests',
    code: 'rate_limit_exceeded',
  },
  500: {
    message: 'The server had an error while processing your request. Sorry about that!',
    type: 'server_error',
    code: null,
  },
};

async function openaiChat(body: any, reply: FakeReply, response: ServerResponse, authorization?: string) {
  const model = body?.model ?? '';
  if ('hang' in reply) return;
  if ('error' in reply) {
    const known = { ...(openaiErrors[reply.error.status] ?? { message: 'error', type: 'server_error', code: null }) };
    if (reply.error.status === 401 && authorization) {
      // OpenAI echoes the key it got, masked: the start and the last four characters.
      const key = authorization.replace(/^Bearer /, '');
      known.message = known.message.replace('sk-proj-****', `${key.slice(0, 8)}${'*'.repeat(12)}${key.slice(-4)}`);
    }
    return json(response, reply.error.status, {
      error: { ...known, message: reply.error.message ?? known.message, param: null },
    });
  }
  const id = 'chatcmpl-Bwkw8fake';
  const base = {
    id,
    object: 'chat.completion.chunk',
    created: 1753343173,
    model,
    service_tier: 'default',
    system_fingerprint: 'fp_b3f1157249',
  };
  const includeUsage = body?.stream_options?.include_usage === true;
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...(includeUsage ? { usage: null } : {}) })}\n\n`;
  const text = reply.text ?? [];
  const calls = ('toolCalls' in reply ? (reply.toolCalls ?? []) : []).map((call, index) => ({
    ...call,
    id: call.id ?? `call_${index}fake0000000000000000000`,
  }));
  const usage = 'usage' in reply && reply.usage ? reply.usage : { prompt: 26, completion: text.length };
  const usageObject = {
    prompt_tokens: usage.prompt,
    completion_tokens: usage.completion,
    total_tokens: usage.prompt + usage.completion,
  };
  const finishReason = calls.length ? 'tool_calls' : 'stop';
  if (body?.stream !== true) {
    return json(response, 200, {
      id,
      object: 'chat.completion',
      created: 1753343173,
      model,
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: calls.length && !text.length ? null : text.join(''),
            ...(calls.length
              ? {
                  tool_calls: calls.map((call) => ({
                    id: call.id,
                    type: 'function',
                    function: { name: call.name, arguments: argumentsString(call) },
                  })),
                }
              : {}),
            refusal: null,
            annotations: [],
          },
          logprobs: null,
          finish_reason: finishReason,
        },
      ],
      usage: usageObject,
      service_tier: 'default',
      system_fingerprint: 'fp_b3f1157249',
    });
  }
  response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
  response.write(chunk({ role: 'assistant', content: '', refusal: null }));
  if ('packed' in reply && reply.packed) response.write(text.map((piece) => chunk({ content: piece })).join(''));
  for (const [index, piece] of 'packed' in reply && reply.packed ? [] : text.entries()) {
    await pace(reply, index, response);
    if (response.destroyed) return;
    await writeText(response, chunk({ content: piece }), 'splitCharacters' in reply && reply.splitCharacters === true);
  }
  await pace(reply, text.length, response);
  if ('midStreamError' in reply) {
    return response.end(
      `data: ${JSON.stringify({ error: { message: reply.midStreamError, type: 'server_error' } })}\n\n`,
    );
  }
  if ('truncate' in reply) return response.end();
  calls.forEach((call, index) => {
    const args = argumentsString(call);
    response.write(
      chunk({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] }),
    );
    const middle = Math.ceil(args.length / 2);
    for (const part of [args.slice(0, middle), args.slice(middle)]) {
      if (part) response.write(chunk({ tool_calls: [{ index, function: { arguments: part } }] }));
    }
  });
  response.write(chunk({}, finishReason));
  if (includeUsage) response.write(`data: ${JSON.stringify({ ...base, choices: [], usage: usageObject })}\n\n`);
  if ('endAfter' in reply && reply.endAfter) {
    response.write('data: [DONE]\n\n');
    await reply.endAfter;
    return response.end();
  }
  response.end('data: [DONE]\n\n');
}
