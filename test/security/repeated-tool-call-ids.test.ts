import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { faultServer, servers } from '../helpers/mcp-servers.js';
import { buildTestApp, closeToolProviders, temporaryDirectory } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

// A tool-call id names one call: its approval, its run and its one result in the history. A model
// answer holding one id twice was approved and run twice, and the history then held two results
// for one id, which a real provider rejects on every later turn of the session.

const upstream = useFakeUpstream({ each: true });
afterAll(() => closeToolProviders());

describe.each(['ollama', 'openai'] as const)('one id twice in one answer through %s', (provider) => {
  it('is one call: one approval, one run, one result; the session stays usable', async () => {
    const countFile = join(await temporaryDirectory('repeated-ids-'), 'count.txt');
    const { post } = await buildTestApp(
      upstream,
      { provider },
      { servers: servers({ fault: faultServer(countFile) }) },
    );
    const ok = async (response: Response) => {
      expect(response.status, await response.clone().text()).toBe(200);
      return response.json() as Promise<any>;
    };
    upstream.reply(
      {
        toolCalls: [
          { id: 'call_same', name: 'count', arguments: { label: 'one' } },
          { id: 'call_same', name: 'count', arguments: { label: 'two' } },
          { id: 'call_other', name: 'read_only_echo', arguments: { text: 'echoed' } },
        ],
      },
      { text: ['Counted.'] },
      { text: ['Still here.'] },
    );

    const first = await ok(await post('/user_request', { input: 'count' }));
    expect(first).toMatchObject({ requires_approval: true, tool: { name: 'count', arguments: { label: 'one' } } });
    expect(first.tool_calls.map((call: any) => call.name)).toEqual(['count', 'read_only_echo']);
    const pending = first.tool_calls.filter((call: any) => call.status === 'pending');
    for (const call of pending) await ok(await post('/approve', { request_id: call.request_id, approve: true }));
    expect(await readFile(countFile, 'utf8')).toBe('one\n');

    const later = await ok(await post('/user_request', { input: 'and now?' }));
    expect(later.message).toBe('Still here.');
    const messages: any[] = upstream.chatRequests().at(-1)!.body.messages;
    const assistant = messages.find((message) => message.tool_calls?.length);
    expect(assistant.tool_calls).toHaveLength(2);
    const results = messages.filter((message) => message.role === 'tool');
    expect(results.map((message) => message.content)).toEqual(['counted', 'echoed']);
    if (provider === 'openai') {
      expect(assistant.tool_calls.map((call: any) => call.id)).toEqual(['call_same', 'call_other']);
      expect(results.map((message) => message.tool_call_id)).toEqual(['call_same', 'call_other']);
    }
  });
});
