import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startServer } from '../helpers/server-process.js';
import { canaryApiKey, projectDirectory, temporaryDirectory } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

const upstream = useFakeUpstream();

const json = (body: unknown) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

describe('the real server, started as npm start starts it', () => {
  it('runs the original flow: start_session, then user_request with no id, against Ollama', async () => {
    const cwd = await temporaryDirectory();
    const server = await startServer(
      ['--model', 'qwen2.5-coder:latest', '--provider', 'ollama', '--ollama-base-url', upstream.url],
      { cwd, env: { LLM_API_KEY: canaryApiKey } },
    );
    try {
      const health = await (await fetch(`${server.url}/health`)).json();
      expect(health).toMatchObject({ status: 'ok', provider: 'ollama', model: 'qwen2.5-coder:latest' });
      const session = await (await fetch(`${server.url}/start_session`, json({ temperature: 0.2 }))).json();
      expect(session.current_directory).toBe(cwd);
      upstream.reply({ text: ['Hello', ' there'] });
      const response = await fetch(`${server.url}/user_request`, json({ input: 'hi' }));
      expect(response.status).toBe(200);
      const body = await response.json();
      expect(body).toMatchObject({ message: 'Hello there', session_id: session.session_id, requires_approval: false });
      expect(upstream.chatRequests().at(-1)?.body.options).toEqual({ temperature: 0.2, num_ctx: 2048 });

      upstream.reply({ error: { status: 401 } });
      const failed = await fetch(`${server.url}/user_request`, json({ input: 'again' }));
      expect(failed.status).toBe(502);
      expect(await failed.text()).not.toContain(canaryApiKey);
    } finally {
      await server.stop();
    }
    expect(server.output()).not.toContain(canaryApiKey);
  });

  it('reads its settings from the .env file --env-file names, below env and flags', async () => {
    const cwd = await temporaryDirectory();
    await writeFile(
      join(cwd, '.env'),
      `LLM_PROVIDER=openai\nLLM_MODEL=from-dotenv\nOPENAI_BASE_URL=${upstream.openaiUrl}\nTEMPERATURE=0.1\n`,
    );
    const server = await startServer(['--temperature', '0.9', '--env-file', '.env'], {
      cwd,
      env: { LLM_MODEL: 'from-env' },
    });
    try {
      const health = await (await fetch(`${server.url}/health`)).json();
      expect(health).toMatchObject({ provider: 'openai', model: 'from-env' });
      await fetch(`${server.url}/user_request`, json({ input: 'hi' }));
      expect(upstream.chatRequests().at(-1)?.body).toMatchObject({ model: 'from-env', temperature: 0.9 });
    } finally {
      await server.stop();
    }
    expect(server.output()).toContain(`settings from ${join(cwd, '.env')}: LLM_PROVIDER, OPENAI_BASE_URL`);
  });

  it('starts the filesystem server of the default config/servers.json from node_modules, offline', async () => {
    const directory = await temporaryDirectory();
    const server = await startServer(['--current-directory', directory, '--ollama-base-url', upstream.url], {
      cwd: projectDirectory,
    });
    try {
      // Listing a session's tools waits for the servers' connections: after it, /health has news.
      const state = await (await fetch(`${server.url}/session_state`)).json();
      expect(state.tools.map((tool: { name: string }) => tool.name)).toContain('write_file');
      expect(state.tools.every((tool: { requires_approval: boolean }) => tool.requires_approval)).toBe(true);
      const health = await (await fetch(`${server.url}/health`)).json();
      expect(health.mcp).toEqual({ filesystem: 'connected' });
    } finally {
      await server.stop();
    }
  });

  it('with --auth-token, turns away requests without the token', async () => {
    const cwd = await temporaryDirectory();
    const server = await startServer(['--auth-token', 'tok-123'], { cwd });
    try {
      expect((await fetch(`${server.url}/session_state`)).status).toBe(401);
      const allowed = await fetch(`${server.url}/session_state`, { headers: { authorization: 'Bearer tok-123' } });
      expect(allowed.status).toBe(200);
    } finally {
      await server.stop();
    }
    expect(server.output()).not.toContain('tok-123');
  });
});
