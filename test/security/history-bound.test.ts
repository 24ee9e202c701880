import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../src/llm/chat-model.js';
import { buildTestApp } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';
import { sampleRecord } from '../store/session-store-contract.js';

// A session's history grew without bound: 300 turns of 100k characters held 114 MB, and one
// GET /session_state answered a 60 MB body. Now the stored history is cut to --max-history-chars,
// oldest whole exchanges first (a tool call never loses its result), with the count of dropped
// messages in the session state; and /session_state pages its messages (?limit=&before=).

const upstream = useFakeUpstream({ each: true });

const characters = (messages: ChatMessage[]) =>
  messages.reduce(
    (sum, message) =>
      sum +
      message.content.length +
      (message.tool_calls ?? []).reduce(
        (calls, call) => calls + call.name.length + JSON.stringify(call.arguments).length,
        0,
      ),
    0,
  );

/** Every tool result follows the assistant message that made its call, and every call has its result. */
function expectValidHistory(messages: any[]) {
  const open = new Set<string>();
  const firstTurn = messages.findIndex((message) => message.role !== 'system');
  expect(messages[firstTurn]?.role).toBe('user');
  for (const message of messages) {
    if (message.role === 'tool') {
      expect(open.has(message.tool_call_id), `result ${message.tool_call_id} without its call`).toBe(true);
      open.delete(message.tool_call_id);
    } else {
      expect(open.size, 'a call without its result').toBe(0);
    }
    for (const call of message.tool_calls ?? []) open.add(call.id);
  }
}

async function walk(
  app: { request: (path: string) => Response | Promise<Response> },
  sessionId: string,
  limit: number,
) {
  const seen: Array<{ index: number; message: ChatMessage }> = [];
  let before: number | null | undefined;
  for (;;) {
    const query = `session_id=${sessionId}&limit=${limit}${before === undefined ? '' : `&before=${before}`}`;
    const response = await app.request(`/session_state?${query}`);
    expect(response.status, await response.clone().text()).toBe(200);
    const page = (await response.json()) as any;
    expect(page.messages.length).toBeLessThanOrEqual(limit);
    seen.unshift(
      ...page.messages.map((message: ChatMessage, offset: number) => ({
        index: page.messages_page.first_index + offset,
        message,
      })),
    );
    before = page.messages_page.next_before;
    if (before === null) return seen;
  }
}

describe('the history bound', () => {
  it('keeps the stored history under --max-history-chars over many long turns, and the model a valid history', async () => {
    const { post, app } = await buildTestApp(upstream, {
      provider: 'openai',
      maxHistoryChars: 60_000,
      contextWindowSize: 1_000_000,
    });
    const started = (await (await post('/start_session', {})).json()) as { session_id: string };
    const sessionId = started.session_id;
    for (let turn = 0; turn < 40; turn += 1) {
      if (turn % 3 === 0) {
        upstream.reply(
          { text: ['x'.repeat(2_000)], toolCalls: [{ id: `call_${turn}`, name: 'no_such_tool', arguments: { turn } }] },
          { text: [`answer ${turn} `, 'y'.repeat(3_000)] },
        );
      } else {
        upstream.reply({ text: [`answer ${turn} `, 'z'.repeat(5_000)] });
      }
      const response = await post('/user_request', { session_id: sessionId, input: `${turn} ${'w'.repeat(10_000)}` });
      expect(response.status, await response.clone().text()).toBe(200);
      expectValidHistory(upstream.chatRequests().at(-1)?.body.messages);
    }
    const sentResults = upstream
      .chatRequests()
      .filter((request) => request.body.messages.some((message: any) => message.role === 'tool'));
    expect(sentResults.length).toBeGreaterThan(10);
    const state = (await (await app.request(`/session_state?session_id=${sessionId}`)).json()) as any;
    const history = state.messages.filter((message: ChatMessage) => message.role !== 'system');
    expect(characters(history)).toBeLessThanOrEqual(60_000);
    expect(history.at(-1).content).toContain('answer 39');
    expectValidHistory(state.messages);
    expect(state.messages_page.dropped).toBeGreaterThan(0);
    expect(state.messages_page.total).toBe(state.messages.length + state.messages_page.dropped);

    const walked = await walk(app, sessionId, 4);
    expect(walked.map((entry) => entry.message)).toEqual(state.messages);
    expect(new Set(walked.map((entry) => entry.index)).size).toBe(walked.length);
  });
});

describe('GET /session_state pages', () => {
  it('walks every message exactly once, newest pages first', async () => {
    const { post, app } = await buildTestApp(upstream);
    const { session_id } = (await (await post('/start_session', {})).json()) as { session_id: string };
    for (let turn = 0; turn < 12; turn += 1) {
      upstream.reply({ text: [`answer ${turn}`] });
      await post('/user_request', { session_id, input: `question ${turn}` });
    }
    const whole = (await (await app.request(`/session_state?session_id=${session_id}`)).json()) as any;
    expect(whole.messages).toHaveLength(25);
    expect(whole.messages_page).toEqual({ total: 25, dropped: 0, first_index: 0, next_before: null, truncated: false });
    for (const limit of [1, 5, 7, 25, 100]) {
      const walked = await walk(app, session_id, limit);
      expect(walked.map((entry) => entry.index)).toEqual([...Array(25).keys()]);
      expect(walked.map((entry) => entry.message)).toEqual(whole.messages);
    }
    const middle = (await (
      await app.request(`/session_state?session_id=${session_id}&limit=3&before=10`)
    ).json()) as any;
    expect(middle.messages.map((message: ChatMessage) => message.content)).toEqual([
      'question 3',
      'answer 3',
      'question 4',
    ]);
    expect(middle.messages_page).toMatchObject({ first_index: 7, next_before: 7, truncated: true });
  });

  it('sends at most 1,000 messages without a limit, and says so', async () => {
    const { store, app } = await buildTestApp(upstream);
    const messages: ChatMessage[] = Array.from({ length: 1_500 }, (_, index) => ({
      role: index % 2 === 0 ? 'user' : 'assistant',
      content: `m${index}`,
    }));
    await store.put(sampleRecord('long-one', { messages, turn: null }), { ttlMilliseconds: 60_000 });
    const state = (await (await app.request('/session_state?session_id=long-one')).json()) as any;
    expect(state.messages).toHaveLength(1_000);
    expect(state.messages.at(-1).content).toBe('m1499');
    expect(state.messages_page).toEqual({
      total: 1_501,
      dropped: 0,
      first_index: 501,
      next_before: 501,
      truncated: true,
    });
    const tooMany = await app.request('/session_state?session_id=long-one&limit=1001');
    expect(tooMany.status).toBe(400);
  });

  it('answers 400 with details for a bad limit or cursor', async () => {
    const { post, app } = await buildTestApp(upstream);
    const { session_id } = (await (await post('/start_session', {})).json()) as { session_id: string };
    for (const [query, field] of [
      ['limit=0', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=2.5', 'limit'],
      ['limit=', 'limit'],
      ['before=-1', 'before'],
      ['before=1e3', 'before'],
      ['limit=1&limit=2', 'limit'],
    ]) {
      const response = await app.request(`/session_state?session_id=${session_id}&${query}`);
      expect(response.status, query).toBe(400);
      const body = (await response.json()) as any;
      expect(body.error.code).toBe('invalid_request');
      expect(body.error.details.map((detail: any) => detail.path)).toContain(field);
    }
  });
});
