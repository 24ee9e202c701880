import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { faultServer, servers } from '../helpers/mcp-servers.js';
import { openStream, parseSse } from '../helpers/sse.js';
import { buildTestApp, closeToolProviders, temporaryDirectory } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

// /approve's body is one decision or a batch (a union): every bad body got `Invalid input` at path
// "", naming no field. And a call that never ran was reported `executed` (with is_error).

const upstream = useFakeUpstream({ each: true });
afterAll(() => closeToolProviders());

describe('a bad /approve body: 400 invalid_request whose details name each field and what it must be', () => {
  it.each([
    ['approve as a string', { request_id: 'r1', approve: 'true' }, [['approve', /boolean/]]],
    ['an unknown remember', { request_id: 'r1', approve: true, remember: 'forever' }, [['remember', /once.*session/]]],
    [
      'a remember of another type',
      { request_id: 'r1', approve: true, remember: 5 },
      [['remember', /once.*session.*for/]],
    ],
    [
      'a remember for no duration',
      { request_id: 'r1', approve: true, remember: { for: 'soon' } },
      [['remember.for', /session.*duration/]],
    ],
    [
      'a remember for zero',
      { request_id: 'r1', approve: true, remember: { for: '0s' } },
      [['remember.for', /duration/]],
    ],
    [
      'a remember for other arguments',
      { request_id: 'r1', approve: true, remember: { for: '10m', arguments: 'similar' } },
      [['remember.arguments', /same/]],
    ],
    [
      'a remember with a key of its own',
      { request_id: 'r1', approve: true, remember: { for: '10m', until: 'tomorrow' } },
      [['remember', /until/]],
    ],
    [
      'a batch decision remembering for no duration',
      { decisions: [{ request_id: 'r1', approve: true, remember: { for: 10 } }] },
      [['decisions.0.remember.for', /duration/]],
    ],
    [
      'arguments that are not an object',
      { request_id: 'r1', approve: true, arguments: 'path=x' },
      [['arguments', /object|record/]],
    ],
    [
      'a batch decision with a string approve and no request_id',
      { decisions: [{ approve: 'yes' }] },
      [
        ['decisions.0.request_id', /string/],
        ['decisions.0.approve', /boolean/],
      ],
    ],
    ['an operator object as request_id', { request_id: { $ne: null }, approve: true }, [['request_id', /string/]]],
    ['an empty batch', { decisions: [] }, [['decisions', /1/]]],
    [
      'nothing at all',
      {},
      [
        ['request_id', /string/],
        ['approve', /boolean/],
      ],
    ],
  ] as const)('%s', async (_, body, expected) => {
    const { post } = await buildTestApp(upstream);
    await post('/user_request', { input: 'hello' });
    const response = await post('/approve', body);
    expect(response.status).toBe(400);
    const { error } = (await response.json()) as any;
    expect(error.code).toBe('invalid_request');
    expect(error.details.map((detail: any) => detail.path)).toEqual(expected.map(([path]) => path));
    expected.forEach(([path, message], index) => {
      expect(error.details[index].message).toMatch(message);
      expect(error.message).toContain(`${path}: `);
    });
  });

  it('the OpenAPI document still shows both shapes of the body', async () => {
    const { app } = await buildTestApp(upstream);
    const document = (await (await app.request('/openapi.json')).json()) as any;
    const schema = document.paths['/approve'].post.requestBody.content['application/json'].schema;
    expect(schema.anyOf.map((shape: any) => shape.required)).toEqual([['request_id', 'approve'], ['decisions']]);
  });
});

describe('a call that never ran is not_run in tool_calls; one that ran and failed stays executed', () => {
  async function setup(config: { maxToolRounds?: number } = {}) {
    // OpenAI's wire format, whose arguments are a JSON string the model can get wrong.
    const countFile = join(await temporaryDirectory('not-run-'), 'count.txt');
    const { post, app } = await buildTestApp(
      upstream,
      { provider: 'openai', ...config },
      {
        servers: servers({ fault: faultServer(countFile, { autoApprove: ['count', 'fail', 'hang'] }) }),
      },
    );
    const ok = async (response: Response) => {
      expect(response.status, await response.clone().text()).toBe(200);
      return response.json() as Promise<any>;
    };
    return { post, app, ok };
  }

  it('an unknown tool, malformed arguments, and a call that failed while running', async () => {
    const { post, ok } = await setup();
    upstream.reply(
      {
        toolCalls: [
          { name: 'no_such_tool', arguments: {} },
          { name: 'count', arguments: '{"label": ' },
          { name: 'fail', arguments: {} },
        ],
      },
      { text: ['Done.'] },
    );
    const body = await ok(await post('/user_request', { input: 'go' }));
    expect(body.tool_calls.map((call: any) => [call.name, call.status, call.is_error])).toEqual([
      ['no_such_tool', 'not_run', true],
      ['count', 'not_run', true],
      ['fail', 'executed', true],
    ]);
    // A late /approve of a call that never ran is told it will not run, not that it was approved.
    const late = await post('/approve', { request_id: body.tool_calls[0].request_id, approve: true });
    expect(late.status).toBe(409);
    expect(((await late.json()) as any).error.details).toMatchObject({ decision: 'denied', status: 'not_run' });
  });

  it('a call refused past --max-tool-rounds', async () => {
    const { post, ok } = await setup({ maxToolRounds: 1 });
    upstream.reply(
      { toolCalls: [{ name: 'count', arguments: {} }] },
      { toolCalls: [{ name: 'count', arguments: {} }] },
    );
    const body = await ok(await post('/user_request', { input: 'go' }));
    expect(body.tool_calls.map((call: any) => call.status)).toEqual(['executed', 'not_run']);
    expect(body.tool_calls[1]).toMatchObject({ is_error: true, result: expect.stringContaining('Not run') });
  });

  it('a stop while the first call runs: that one executed (failed), the next one never started: not_run', async () => {
    const { post, ok } = await setup();
    upstream.reply({
      toolCalls: [
        { name: 'hang', arguments: {} },
        { name: 'count', arguments: {} },
      ],
    });
    const stream = openStream(await post('/user_request', { input: 'go', stream: true }));
    await stream.until((text) => text.includes('event: tool_call'));
    await ok(await post('/stop', {}));
    const done = parseSse(await stream.rest()).find((event) => event.event === 'done')!;
    expect(done.data).toMatchObject({ stopped: true });
    expect(done.data.tool_calls.map((call: any) => [call.name, call.status, call.is_error])).toEqual([
      ['hang', 'executed', true],
      ['count', 'not_run', true],
    ]);
  });

  it('the OpenAPI document lists not_run', async () => {
    const { app } = await setup();
    const document = JSON.stringify(await (await app.request('/openapi.json')).json());
    expect(document).toContain('"enum":["executed","denied","pending","not_run"]');
  });
});
