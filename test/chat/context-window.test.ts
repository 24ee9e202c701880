import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerReserve, estimateTokens, fitContextWindow } from '../../src/chat/context-window.js';
import type { ChatMessage } from '../../src/llm/chat-model.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { buildTestApp } from '../helpers/test-app.js';

const user = (content: string): ChatMessage => ({ role: 'user', content });
const assistant = (content: string): ChatMessage => ({ role: 'assistant', content });

describe('fitContextWindow', () => {
  const system: ChatMessage = { role: 'system', content: 'You are helpful.' };

  it('sends everything when it fits', () => {
    const history = [user('a'), assistant('b'), user('c')];
    expect(fitContextWindow(system, history, 2048)).toEqual([system, ...history]);
  });

  it('drops the oldest exchanges first, keeping the system prompt and the newest', () => {
    const history = Array.from({ length: 20 }, (_, index) => [
      user(`q${index} ${'x'.repeat(400)}`),
      assistant(`a${index}`),
    ]).flat();
    history.push(user('latest'));
    const sent = fitContextWindow(system, history, 1000);
    expect(sent[0]).toBe(system);
    expect(sent.at(-1)).toEqual(user('latest'));
    expect(sent.length).toBeLessThan(history.length);
    const total = sent.reduce((sum, message) => sum + estimateTokens(message), 0);
    expect(total).toBeLessThanOrEqual(1000 - answerReserve(1000));
    const firstKept = history.indexOf(sent[1]);
    expect(sent.slice(1)).toEqual(history.slice(firstKept));
  });

  it('never separates a tool call from its results', () => {
    const call: ChatMessage = {
      role: 'assistant',
      content: '',
      tool_calls: [{ id: 'c1', name: 'read', arguments: { path: 'x'.repeat(2000) } }],
    };
    const result: ChatMessage = { role: 'tool', content: 'y'.repeat(2000), tool_call_id: 'c1', name: 'read' };
    const history = [user('old'), call, result, assistant('done'), user('new')];
    for (const window of [200, 800, 1200, 1600, 3000]) {
      const sent = fitContextWindow(system, history, window);
      const hasCall = sent.includes(call);
      expect(sent.includes(result)).toBe(hasCall);
    }
  });

  it('always sends the latest exchange even when it alone is too long', () => {
    const sent = fitContextWindow(system, [user('old'), user('x'.repeat(10_000))], 100);
    expect(sent).toEqual([system, user('x'.repeat(10_000))]);
  });
});

describe('context window trimming against the upstream', () => {
  let upstream: FakeUpstream;
  beforeAll(async () => {
    upstream = await startFakeUpstream();
  });
  afterAll(() => upstream.close());

  it('a long conversation is trimmed to the window, oldest first, the system prompt kept', async () => {
    const { post, app } = await buildTestApp(upstream, { contextWindowSize: 512 });
    for (let index = 0; index < 12; index += 1) {
      upstream.reply({ text: [`answer ${index} ${'z'.repeat(200)}`] });
      expect((await post('/user_request', { input: `question ${index} ${'q'.repeat(200)}` })).status).toBe(200);
    }
    const last = upstream.chatRequests().at(-1)!.body;
    expect(last.options.num_ctx).toBe(512);
    expect(last.messages[0].role).toBe('system');
    expect(last.messages.at(-1).content).toMatch(/^question 11 /);
    expect(last.messages[1].role).toBe('user');
    expect(last.messages.some((message: ChatMessage) => message.content.startsWith('question 0 '))).toBe(false);
    const characters = last.messages.reduce((sum: number, message: ChatMessage) => sum + message.content.length, 0);
    expect(characters / 4).toBeLessThan(512);
    const state = await (await app.request('/session_state')).json();
    expect(state.messages).toHaveLength(1 + 24);
  });
});
