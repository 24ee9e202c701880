import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { filesystemServer, servers } from '../helpers/mcp-servers.js';
import { buildTestApp, closeToolProviders } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

const upstream = useFakeUpstream();
afterAll(() => closeToolProviders());

const writeCall = { name: 'write_file', arguments: { path: 'a.txt', content: 'hello from the model' } };

describe.each(['ollama', 'openai'] as const)('the filesystem MCP server through %s', (provider) => {
  const build = () => buildTestApp(upstream, { provider }, { servers: servers({ filesystem: filesystemServer() }) });

  it('offers the server tools to the model and asks before write_file runs', async () => {
    const { post, currentDirectory } = await build();
    upstream.reply({ text: ['I will write it.'], toolCalls: [writeCall] });
    const response = await post('/user_request', { input: 'write a.txt' });
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body).toMatchObject({
      requires_approval: true,
      tool: { name: 'write_file', arguments: writeCall.arguments, server: 'filesystem' },
      message: 'I will write it.',
      tool_calls: [{ name: 'write_file', status: 'pending', server: 'filesystem' }],
    });
    expect(body.request_id).toBe(body.tool_calls[0].request_id);
    expect(existsSync(join(currentDirectory, 'a.txt'))).toBe(false);
    const sent = upstream.chatRequests().at(-1)!.body;
    const names = sent.tools.map((tool: { function: { name: string } }) => tool.function.name);
    expect(names).toContain('write_file');
    expect(names).toContain('read_text_file');
  });

  it('deny: the file is never written and the model is told, with the reason', async () => {
    const { post, currentDirectory } = await build();
    upstream.reply({ toolCalls: [writeCall] }, { text: ['Understood, I did not write it.'] });
    const first = await (await post('/user_request', { input: 'write a.txt' })).json();
    const response = await post('/approve', { request_id: first.request_id, approve: false, reason: 'not that file' });
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body).toMatchObject({
      requires_approval: false,
      tool: null,
      message: 'Understood, I did not write it.',
      tool_calls: [{ request_id: first.request_id, status: 'denied', is_error: true }],
    });
    expect(existsSync(join(currentDirectory, 'a.txt'))).toBe(false);
    const messages = upstream.chatRequests().at(-1)!.body.messages;
    const result = messages.at(-1);
    expect(result.role).toBe('tool');
    expect(result.content).toContain('denied');
    expect(result.content).toContain('not that file');
    if (provider === 'openai') expect(result.tool_call_id).toBe(messages.at(-2).tool_calls[0].id);
    else expect(result.tool_name).toBe('write_file');
  });

  it('approve: the file holds the shown content and the tool result reaches the model', async () => {
    const { post, currentDirectory } = await build();
    upstream.reply({ toolCalls: [writeCall] }, { text: ['Done.'] });
    const first = await (await post('/user_request', { input: 'write a.txt' })).json();
    const body = await (await post('/approve', { request_id: first.request_id, approve: true })).json();
    expect(body).toMatchObject({ requires_approval: false, message: 'Done.' });
    expect(body.tool_calls[0]).toMatchObject({ status: 'executed', is_error: false });
    expect(await readFile(join(currentDirectory, 'a.txt'), 'utf8')).toBe('hello from the model');
    const messages = upstream.chatRequests().at(-1)!.body.messages;
    const call = messages.at(-2);
    expect(call.role).toBe('assistant');
    if (provider === 'openai') {
      expect(call.tool_calls[0]).toMatchObject({ type: 'function', function: { name: 'write_file' } });
      expect(JSON.parse(call.tool_calls[0].function.arguments)).toEqual(writeCall.arguments);
      expect(messages.at(-1).tool_call_id).toBe(call.tool_calls[0].id);
    } else {
      expect(call.tool_calls[0].function).toEqual({ name: 'write_file', arguments: writeCall.arguments });
    }
    expect(messages.at(-1)).toMatchObject({ role: 'tool' });
    expect(messages.at(-1).content).toContain('Successfully wrote');
  });
});
