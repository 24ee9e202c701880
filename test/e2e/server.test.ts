import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
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

/**
 * Sends a POST as raw bytes, as `curl -X POST` does (no body; no Content-Length unless `headers` has
 * one), and resolves to the status and the JSON body of the answer.
 */
async function rawPost(url: string, path: string, headers: string[] = [], body = '') {
  const socket = connect(Number(new URL(url).port), '127.0.0.1');
  socket.write([`POST ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', ...headers, '', body].join('\r\n'));
  let answer = '';
  for await (const chunk of socket) answer += chunk;
  const [head, ...rest] = answer.split('\r\n\r\n');
  return { status: Number(head.split(' ')[1]), body: JSON.parse(rest.join('\r\n\r\n')) };
}

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
      expect(upstream.chatRequests().at(-1)?.body.options).toEqual({ temperature: 0.2, num_ctx: 8192 });

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

  it('takes a POST with no body as {} (curl -X POST /start_session, /stop), and a typed non-JSON body as 415', async () => {
    const server = await startServer(['--ollama-base-url', upstream.url], { cwd: await temporaryDirectory() });
    try {
      const started = await rawPost(server.url, '/start_session');
      expect(started.status).toBe(201);
      upstream.reply({ hang: true });
      const before = upstream.chatRequests().length;
      const turn = fetch(`${server.url}/user_request`, json({ input: 'hi' }));
      await upstream.untilChatRequests(before + 1);
      expect(await rawPost(server.url, '/stop')).toEqual({ status: 200, body: { stopped: true } });
      expect(await (await turn).json()).toMatchObject({ session_id: started.body.session_id, stopped: true });

      const noTurn = { status: 409, body: { error: expect.objectContaining({ code: 'no_turn_running' }) } };
      expect(await rawPost(server.url, '/stop', ['Content-Type: application/json'])).toEqual(noTurn);
      expect(await rawPost(server.url, '/stop', ['Content-Length: 0'])).toEqual(noTurn);
      const missing = await rawPost(server.url, '/user_request');
      expect(missing.status).toBe(400);
      expect(missing.body.error.details[0].path).toBe('input');
      const text = await rawPost(server.url, '/stop', ['Content-Type: text/plain', 'Content-Length: 2'], '{}');
      expect(text.status).toBe(415);
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
