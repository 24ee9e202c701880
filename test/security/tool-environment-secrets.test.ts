import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { composeServer } from '../../src/compose-server.js';
import { configSchema } from '../../src/config/schema.js';
import { createNodeDirectoryGuard } from '../../src/node/directory-guard.js';
import { createStdioStarter } from '../../src/node/stdio-transport.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import type { ToolProvider } from '../../src/tools/tool-provider.js';
import { servers } from '../helpers/mcp-servers.js';
import { parseSse } from '../helpers/sse.js';
import { temporaryDirectory } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

// The values of a server's `env` (and `headers`) in servers.json are secrets: the logger redacted
// them, but a tool that printed its environment put them in /approve, /session_state, the SSE
// events and the next request to the LLM.

const namedToolsServer = fileURLToPath(new URL('./named-tools-server.mjs', import.meta.url));
const secrets = {
  plain: 'env-secret-3b9f1c7a',
  substituted: 'substituted-secret-5e2d',
  quoted: 'quote"and\\backslash-secret',
  header: 'Bearer header-secret-9a41',
};

const upstream = useFakeUpstream({ each: true });
const providers: ToolProvider[] = [];
afterAll(() => Promise.all(providers.map((provider) => provider.close())));

/** The server as every runtime composes it, with one stdio server whose tool prints its environment. */
async function setup() {
  const currentDirectory = await temporaryDirectory('environment-secrets-');
  const { app, tools } = composeServer({
    config: { ...configSchema.parse({}), ollamaBaseUrl: upstream.url, currentDirectory },
    servers: servers({
      printer: {
        command: process.execPath,
        args: [namedToolsServer, 'printer', 'print_environment'],
        env: {
          PLAIN_SECRET: secrets.plain,
          // biome-ignore lint/suspicious/noTemplateCurlyInString: servers.json substitution, not a template
          SUBSTITUTED_SECRET: '${SECRET_VARIABLE}',
          QUOTED_SECRET: secrets.quoted,
          HEADER_COPY: secrets.header,
        },
      },
      remote: { url: 'http://127.0.0.1:9/mcp', headers: { Authorization: secrets.header }, disabled: true },
    }),
    variables: { SECRET_VARIABLE: secrets.substituted },
    write: () => {},
    store: createMemoryStore(),
    directories: createNodeDirectoryGuard({ base: currentDirectory, roots: [currentDirectory] }),
    version: '0.0.0-test',
    stdio: createStdioStarter,
  });
  providers.push(tools);
  const post = (path: string, body: unknown) =>
    app.request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { app, post };
}

const expectNoSecret = (text: string) => {
  for (const secret of Object.values(secrets)) {
    expect(text).not.toContain(secret);
    expect(text).not.toContain(JSON.stringify(secret).slice(1, -1));
  }
};

it('a tool printing its environment: no configured value in /approve (JSON or SSE), /session_state or the LLM request', async () => {
  const { app, post } = await setup();
  const bodies: string[] = [];
  const call = { name: 'print_environment', arguments: {} };

  upstream.reply({ toolCalls: [call] }, { text: ['Printed.'] });
  const asked = await post('/user_request', { input: 'print it' });
  const { request_id } = (await asked.json()) as { request_id: string };
  const json = await post('/approve', { request_id, approve: true });
  bodies.push(await json.clone().text());
  const result = ((await json.json()) as any).tool_calls[0].result as string;
  expect(result).toContain('"PLAIN_SECRET":"[redacted]"');
  expect(result).toContain('"QUOTED_SECRET":"[redacted]"');

  upstream.reply({ toolCalls: [call] }, { text: ['Printed again.'] });
  const again = (await (await post('/user_request', { input: 'again' })).json()) as { request_id: string };
  const stream = await post('/approve', { request_id: again.request_id, approve: true, stream: true });
  const text = await stream.text();
  bodies.push(text);
  const events = parseSse(text);
  expect(events.map((event) => event.event)).toContain('tool_progress');
  expect(events.find((event) => event.event === 'tool_result')?.data.content).toContain('[redacted]');

  bodies.push(await (await app.request('/session_state')).text());
  for (const body of bodies) expectNoSecret(body);
  const toolMessages = upstream
    .chatRequests()
    .flatMap((request) => request.body.messages)
    .filter((message: any) => message.role === 'tool');
  expect(toolMessages).toHaveLength(4);
  for (const request of upstream.chatRequests()) expectNoSecret(JSON.stringify(request.body));
});
