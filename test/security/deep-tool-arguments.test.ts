import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FakeToolCall } from '../helpers/fake-upstream.js';
import { faultServer, servers } from '../helpers/mcp-servers.js';
import { buildTestApp, closeToolProviders, temporaryDirectory } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

// Tool arguments come from the model, so they are untrusted: arguments nested thousands deep once
// made every later use of the session throw RangeError (500), and arguments of any size were kept.
// Over the bounds a call is an invalid-arguments call: the model gets an error result, nothing runs.

const upstream = useFakeUpstream({ each: true });
afterAll(() => closeToolProviders());

const nestedText = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

async function setup(provider: 'ollama' | 'openai') {
  const countFile = join(await temporaryDirectory('deep-arguments-'), 'count.txt');
  const built = await buildTestApp(upstream, { provider }, { servers: servers({ fault: faultServer(countFile) }) });
  const counted = () => readFile(countFile, 'utf8').catch(() => '');
  const ask = async (input: string) => {
    const response = await built.post('/user_request', { input });
    expect(response.status, await response.clone().text()).toBe(200);
    return response.json() as Promise<any>;
  };
  return { ...built, counted, ask };
}

/** The model makes `call`, then answers twice: the turn and a later one answer, the session stays readable. */
async function expectRefusedAndSessionUsable(provider: 'ollama' | 'openai', call: FakeToolCall) {
  const t = await setup(provider);
  upstream.reply({ toolCalls: [call] }, { text: ['I could not call it.'] }, { text: ['Still here.'] });

  const first = await t.ask('call the tool');
  expect(first).toMatchObject({ requires_approval: false, message: 'I could not call it.' });
  expect(first.tool_calls).toMatchObject([{ name: 'count', arguments: {}, status: 'not_run', is_error: true }]);
  const toolMessage = upstream.chatRequests()[1].body.messages.at(-1);
  expect(toolMessage.role).toBe('tool');
  expect(toolMessage.content).toMatch(/did not run: .*(deeper than|longer than)/);

  expect(await t.ask('are you there?')).toMatchObject({ message: 'Still here.' });
  const state = await t.app.request('/session_state');
  expect(state.status).toBe(200);
  expect((await state.json()).messages.length).toBeGreaterThan(4);
  expect(await t.counted()).toBe('');
}

describe.each(['ollama', 'openai'] as const)('tool arguments over the bounds through %s', (provider) => {
  it('arguments nested thousands deep: an error result, later turns and /session_state work', async () => {
    // OpenAI sends argument text, so any depth; the fake Ollama serialises an object, which V8 can
    // do to about 4,000 levels (the server broke from about 2,000, where structuredClone stops).
    const depth = provider === 'openai' ? 6000 : 3000;
    const nested = provider === 'openai' ? nestedText(depth) : { label: 'deep', nested: JSON.parse(nestedText(depth)) };
    await expectRefusedAndSessionUsable(provider, { id: 'call_big', name: 'count', arguments: nested });
  });

  it('arguments longer than a million characters: an error result, the tool never runs', async () => {
    await expectRefusedAndSessionUsable(provider, {
      id: 'call_big',
      name: 'count',
      arguments: { label: 'x'.repeat(1_000_001) },
    });
  });

  it('arguments 64 levels deep still reach the tool', async () => {
    const t = await setup(provider);
    const nested = JSON.parse(nestedText(62));
    upstream.reply({ toolCalls: [{ id: 'call_ok', name: 'count', arguments: { label: 'ok', nested } }] });
    const first = await t.ask('call the tool');
    expect(first).toMatchObject({
      requires_approval: true,
      tool: { name: 'count', arguments: { label: 'ok', nested } },
    });
  });
});
