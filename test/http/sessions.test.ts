import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createManualClock } from '../helpers/manual-clock.js';
import { buildTestApp, temporaryDirectory } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

const upstream = useFakeUpstream();

describe('POST /start_session', () => {
  it('answers 201 with the session state, the server defaults filling unset fields', async () => {
    const { post, currentDirectory } = await buildTestApp(upstream);
    const response = await post('/start_session', { model: 'llama3.2', stream: true });
    expect(response.status).toBe(201);
    const state = await response.json();
    expect(state).toMatchObject({
      session_id: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      provider: 'ollama',
      model: 'llama3.2',
      current_directory: currentDirectory,
      temperature: 0.7,
      context_window_size: 8192,
      stream: true,
      status: 'idle',
      pending_approvals: [],
      tools: [],
      usage: { prompt_tokens: 0, completion_tokens: 0 },
      context: { window: 8192 },
    });
    expect(state.messages[0].role).toBe('system');
    expect(state.messages[0].content).toContain(currentDirectory);
    expect(Date.parse(state.created_at)).not.toBeNaN();
  });

  it('accepts an empty POST (no body at all) as all defaults', async () => {
    const { app } = await buildTestApp(upstream);
    const response = await app.request('/start_session', { method: 'POST' });
    expect(response.status).toBe(201);
  });

  it('makes the new session the default one for requests that name none', async () => {
    const { post, app } = await buildTestApp(upstream);
    await post('/start_session', {});
    const second = await (await post('/start_session', { system_prompt: 'Be brief.' })).json();
    const state = await (await app.request('/session_state')).json();
    expect(state.session_id).toBe(second.session_id);
    expect(state.messages[0]).toEqual({ role: 'system', content: 'Be brief.' });
  });

  it('takes provider, temperature and context window from the body and uses them upstream', async () => {
    const { post } = await buildTestApp(upstream);
    const state = await (
      await post('/start_session', {
        llm_provider: 'openai',
        model: 'gpt-4o-mini',
        temperature: 1.5,
        context_window_size: 16384,
      })
    ).json();
    expect(state).toMatchObject({ provider: 'openai', temperature: 1.5, context_window_size: 16384 });
    await post('/user_request', { input: 'hi', session_id: state.session_id });
    expect(upstream.chatRequests().at(-1)?.path).toBe('/v1/chat/completions');
  });

  it.each([
    [{ temperature: 5 }, 'temperature'],
    [{ temperature: 'hot' }, 'temperature'],
    [{ llm_provider: 'anthropic' }, 'llm_provider'],
    [{ context_window_size: 0 }, 'context_window_size'],
    [{ stream: 'yes' }, 'stream'],
  ])('rejects %j with 400 invalid_request naming the field', async (body, field) => {
    const { post } = await buildTestApp(upstream);
    const response = await post('/start_session', body);
    expect(response.status).toBe(400);
    const error = (await response.json()).error;
    expect(error.code).toBe('invalid_request');
    expect(error.details.map((detail: { path: string }) => detail.path)).toContain(field);
  });
});

describe('current_directory is confined to the allowed roots', () => {
  it('accepts a subdirectory, given relative or absolute, and resolves it', async () => {
    const { post, currentDirectory } = await buildTestApp(upstream);
    await mkdir(join(currentDirectory, 'project'));
    const relative = await (await post('/start_session', { current_directory: 'project/../project' })).json();
    expect(relative.current_directory).toBe(join(currentDirectory, 'project'));
    const absolute = await (
      await post('/start_session', { current_directory: join(currentDirectory, 'project') })
    ).json();
    expect(absolute.current_directory).toBe(join(currentDirectory, 'project'));
  });

  it('accepts a directory whose name starts with two dots', async () => {
    const { post, currentDirectory } = await buildTestApp(upstream);
    await mkdir(join(currentDirectory, '..data'));
    const response = await post('/start_session', { current_directory: '..data' });
    expect(response.status).toBe(201);
  });

  it('accepts a directory under --allow-directory', async () => {
    const other = await temporaryDirectory();
    const { post } = await buildTestApp(upstream, { allowDirectory: [other] });
    const response = await post('/start_session', { current_directory: other });
    expect(response.status).toBe(201);
  });

  it.each(['../../etc', '/etc', 'SIBLING', 'LINK'])('refuses %s with 403 directory_not_allowed', async (requested) => {
    const parent = await temporaryDirectory();
    const root = join(parent, 'root');
    await mkdir(root);
    await mkdir(join(parent, 'root-sibling'));
    await symlink('/etc', join(root, 'link'));
    const { post } = await buildTestApp(upstream, { currentDirectory: root });
    const path = requested === 'SIBLING' ? join(parent, 'root-sibling') : requested === 'LINK' ? 'link' : requested;
    const response = await post('/start_session', { current_directory: path });
    expect(response.status).toBe(403);
    expect((await response.json()).error.code).toBe('directory_not_allowed');
  });

  it('answers 400 for a path that does not exist or is a file', async () => {
    const { post, currentDirectory } = await buildTestApp(upstream);
    await writeFile(join(currentDirectory, 'file.txt'), 'x');
    for (const path of ['missing', 'file.txt']) {
      const response = await post('/start_session', { current_directory: path });
      expect(response.status).toBe(400);
      expect((await response.json()).error.code).toBe('invalid_request');
    }
  });
});

describe('naming a session', () => {
  it('GET /session_state finds a session by query, header or (POST) body', async () => {
    const { post, app } = await buildTestApp(upstream);
    const { session_id } = await (await post('/start_session', { model: 'a' })).json();
    await post('/start_session', { model: 'b' });
    expect((await (await app.request(`/session_state?session_id=${session_id}`)).json()).model).toBe('a');
    expect(
      (await (await app.request('/session_state', { headers: { 'X-Session-Id': session_id } })).json()).model,
    ).toBe('a');
    expect((await (await app.request('/session_state')).json()).model).toBe('b');
  });

  it('creates the default session on first use when none was started', async () => {
    const { post, app } = await buildTestApp(upstream);
    const first = await (await post('/user_request', { input: 'hi' })).json();
    const state = await (await app.request('/session_state')).json();
    expect(state.session_id).toBe(first.session_id);
    expect(state.messages).toHaveLength(3);
  });

  it.each([
    ['a 10,000-character id', 'a'.repeat(10_000)],
    ['an id with a slash', 'abc/def'],
    ['an id with a space', 'abc def'],
    ['an empty id', ''],
  ])('rejects %s with 400 invalid_session_id', async (_, id) => {
    const { post } = await buildTestApp(upstream);
    const before = upstream.chatRequests().length;
    const response = await post('/user_request', { input: 'hi', session_id: id });
    expect(response.status).toBe(400);
    expect((await response.json()).error.code).toBe('invalid_session_id');
    expect(upstream.chatRequests()).toHaveLength(before);
  });

  it('rejects two different ids in one request with 400 conflicting_session_id', async () => {
    const { post, app } = await buildTestApp(upstream);
    const response = await post('/user_request', { input: 'hi', session_id: 'aaaa' }, { 'X-Session-Id': 'bbbb' });
    expect(response.status).toBe(400);
    expect((await response.json()).error.code).toBe('conflicting_session_id');
    const inQuery = await app.request('/session_state?session_id=aaaa&session_id=bbbb');
    expect((await inQuery.json()).error.code).toBe('conflicting_session_id');
    const bodyAndQuery = await post('/user_request?session_id=bbbb', { input: 'hi', session_id: 'aaaa' });
    expect((await bodyAndQuery.json()).error.code).toBe('conflicting_session_id');
  });

  it('POST /user_request finds the session named in the body', async () => {
    const { post } = await buildTestApp(upstream);
    const { session_id } = await (await post('/start_session', { model: 'named' })).json();
    await post('/start_session', { model: 'other' });
    await post('/user_request', { input: 'hi', session_id });
    expect(upstream.chatRequests().at(-1)?.body.model).toBe('named');
  });

  it('answers 404 unknown_session for an id of the right form that does not exist', async () => {
    const { post, app } = await buildTestApp(upstream);
    const response = await post('/user_request', { input: 'hi', session_id: 'no-such-session' });
    expect(response.status).toBe(404);
    expect((await response.json()).error.code).toBe('unknown_session');
    expect((await app.request('/session_state?session_id=nope')).status).toBe(404);
  });

  it('with --require-session-id, a request without an id gets 400 session_required', async () => {
    const { post, app } = await buildTestApp(upstream, { requireSessionId: true });
    expect((await (await post('/user_request', { input: 'hi' })).json()).error.code).toBe('session_required');
    expect((await app.request('/session_state')).status).toBe(400);
    const { session_id } = await (await post('/start_session', {})).json();
    expect((await post('/user_request', { input: 'hi', session_id })).status).toBe(200);
  });

  it('expires a session after --session-ttl without activity', async () => {
    const clock = createManualClock();
    const { post, app } = await buildTestApp(upstream, { sessionTtl: 100 }, { dependencies: { clock } });
    const { session_id } = await (await post('/start_session', {})).json();
    await clock.advance(99);
    expect((await app.request(`/session_state?session_id=${session_id}`)).status).toBe(200);
    await clock.advance(100);
    expect((await app.request(`/session_state?session_id=${session_id}`)).status).toBe(404);
  });
});
