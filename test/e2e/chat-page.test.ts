/**
 * The chat page (GET /) used as a person uses it: the real server started from the sources on an
 * ephemeral port, the fake upstream as its model, a real MCP server for tools, and Debian's
 * Chromium driven by playwright-core (no downloaded browser). Every wait is on a state of the page
 * or of the fake model, never on time.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/chromium.js';
import { createHold } from '../helpers/fake-upstream.js';
import { faultServer } from '../helpers/mcp-servers.js';
import { startServer } from '../helpers/server-process.js';
import { temporaryDirectory } from '../helpers/test-app.js';
import { linesOf } from '../helpers/until-line.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

const upstream = useFakeUpstream();
let server: Awaited<ReturnType<typeof startServer>>;
let browser: Browser;
let countFile: string;
let workDirectory: string;

beforeAll(async () => {
  workDirectory = await temporaryDirectory();
  countFile = join(workDirectory, 'count.txt');
  await writeFile(
    join(workDirectory, 'servers.json'),
    JSON.stringify({ mcpServers: { fault: faultServer(countFile) } }),
  );
  server = await startServer(['--ollama-base-url', upstream.url, '--servers-config', 'servers.json'], {
    cwd: workDirectory,
  });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** A page in its own browser context (its own storage), recording what its script throws or logs. */
async function openPage(options: { context?: BrowserContext; width?: number } = {}) {
  const context =
    options.context ?? (await browser.newContext({ viewport: { width: options.width ?? 1100, height: 800 } }));
  const page = await context.newPage();
  // Below the test's own timeout, so that a wait that fails says what it waited for.
  page.setDefaultTimeout(8000);
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  page.on('console', (message) => {
    const url = message.location().url;
    // The browser's own favicon request and a failed fetch the page reports itself are not script errors.
    if (
      message.type() === 'error' &&
      !url.endsWith('/favicon.ico') &&
      !/Failed to load resource/.test(message.text())
    ) {
      errors.push(message.text());
    }
  });
  return { page, errors, context: page.context() };
}

const message = (page: Page) => page.getByLabel('Message');
const log = (page: Page) => page.locator('#log');

async function ask(page: Page, text: string) {
  await message(page).fill(text);
  await message(page).press('Enter');
}

/** Resolves once the page can take the next question. */
const untilIdle = (page: Page) => page.locator('body[data-mode="idle"]').waitFor();

const occurrences = (text: string, part: string) => text.split(part).length - 1;

describe('the chat page in Chromium', () => {
  it('streams the answer as it comes, with the input disabled until the turn ends; Shift+Enter adds a line', async () => {
    const { page, errors } = await openPage();
    const firstWords = createHold(1);
    upstream.reply({ text: ['The answer ', 'is **42**.'], holds: [firstWords] });
    await page.goto(server.url);
    await message(page).fill('First line');
    await message(page).press('Shift+Enter');
    await message(page).pressSequentially('second line');
    expect(await message(page).inputValue()).toBe('First line\nsecond line');
    await message(page).press('Enter');

    await log(page).getByText('The answer').waitFor();
    await firstWords.reached;
    expect(await log(page).textContent()).not.toContain('42');
    expect(await message(page).isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Stop' }).waitFor();
    expect(upstream.chatRequests().at(-1)!.body.messages.at(-1)).toEqual({
      role: 'user',
      content: 'First line\nsecond line',
    });
    firstWords.release();

    await page.locator('.markdown strong', { hasText: '42' }).waitFor();
    await untilIdle(page);
    expect(await message(page).isDisabled()).toBe(false);
    expect(await page.locator('#announcer').textContent()).toContain('The answer is 42.');
    // The chat is listed in this browser, and the URL names it.
    const chatId = new URL(page.url()).hash.slice(1);
    expect(chatId).toMatch(/^[\w-]{20,}$/);
    await expect(page.getByRole('navigation', { name: 'Chats' }).getByRole('link').textContent()).resolves.toBe(
      'First line second line',
    );
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('asks before a tool runs, shows its arguments as text, and shows the result and the continuation once approved', async () => {
    const { page, errors } = await openPage();
    upstream.reply(
      {
        text: ['Let me count.'],
        toolCalls: [{ name: 'count', arguments: { label: 'from-the-page\nsecond line' } }],
      },
      { text: ['There is ', 'one.'] },
    );
    await page.goto(server.url);
    await ask(page, 'How many are there?');

    const card = page.locator('.call.pending');
    await card.waitFor();
    expect(await card.locator('.tool').textContent()).toBe('fault · count');
    // A multi-line argument is shown with its newline, not as "\n" in JSON.
    expect(await card.locator('pre.value').textContent()).toBe('from-the-page\nsecond line');
    expect(await linesOf(countFile)).not.toContain('from-the-page');
    expect(await message(page).isDisabled()).toBe(true);

    await card.getByRole('button', { name: 'Approve', exact: true }).click();
    await log(page).getByText('There is one.').waitFor();
    await untilIdle(page);
    const call = page.locator('.call');
    expect(await call.locator('.status').textContent()).toBe('done');
    await call.locator('summary', { hasText: 'Result' }).click();
    await call.getByText('counted').waitFor();
    expect(occurrences((await log(page).textContent())!, 'There is one.')).toBe(1);
    const continuation = upstream.chatRequests().at(-1)!;
    expect(continuation.body.messages.at(-1)).toMatchObject({ role: 'tool', content: 'counted' });
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('approves for 10 minutes: the button says what it covers, and the next call runs saying what allowed it', async () => {
    const { page, errors } = await openPage();
    upstream.reply(
      { toolCalls: [{ name: 'count', arguments: { label: 'timed-one' } }] },
      { text: ['Counted once.'] },
      { toolCalls: [{ name: 'count', arguments: { label: 'timed-two' } }] },
      { text: ['Counted again.'] },
    );
    await page.goto(server.url);
    await ask(page, 'Count once');
    const card = page.locator('.call.pending');
    const timed = card.getByRole('button', { name: 'Approve for 10 minutes' });
    expect(await timed.getAttribute('title')).toContain(
      'later calls of "count" on server "fault" with any arguments, for 10 minutes',
    );
    expect(await card.getByRole('button', { name: 'Always for these arguments' }).getAttribute('title')).toContain(
      'exactly these arguments',
    );
    await timed.click();
    await log(page).getByText('Counted once.').waitFor();
    await untilIdle(page);

    await ask(page, 'Count again');
    await log(page).getByText('Counted again.').waitFor();
    await untilIdle(page);
    expect(await page.locator('.call.pending').count()).toBe(0);
    const second = page.locator('.call').last();
    expect(await second.locator('.decided-by').textContent()).toMatch(/^allowed by an earlier approval \(until \S+/);
    expect(await linesOf(countFile)).toEqual(expect.arrayContaining(['timed-one', 'timed-two']));
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('denies with a typed reason, which the model is told', async () => {
    const { page, errors } = await openPage();
    const requests: string[] = [];
    page.on('request', (request) => requests.push(`${request.method()} ${new URL(request.url()).pathname}`));
    // The answer to the decision reaches the page only after the continuation it set off (on the
    // stream that waited) has ended: the page must not mistake that for another tab's.
    let answered = false;
    await page.route('**/approve', async (route) => {
      const response = await route.fetch();
      await log(page).getByText('Understood, I will not write it.').waitFor();
      await untilIdle(page);
      await route.fulfill({ response });
      answered = true;
    });

    upstream.reply(
      { toolCalls: [{ name: 'write_note', arguments: { path: 'note.txt', content: 'x'.repeat(500) } }] },
      { text: ['Understood, I will not write it.'] },
    );
    await page.goto(server.url);
    await ask(page, 'Write a note');
    const card = page.locator('.call.pending');
    await card.waitFor();
    // A long value is folded.
    expect(await card.locator('details.argument summary').textContent()).toContain('500 characters');
    await card.getByLabel('Reason for denying').fill('not in this folder');
    await card.getByRole('button', { name: 'Deny' }).click();
    await log(page).getByText('Understood, I will not write it.').waitFor();
    const denied = upstream.chatRequests().at(-1)!.body.messages.at(-1);
    expect(denied.role).toBe('tool');
    expect(denied.content).toContain('not in this folder');
    // The card is busy until the page has handled the answer to the decision.
    await page.locator('.call[aria-busy="true"]').waitFor({ state: 'detached' });
    expect(answered).toBe(true);
    expect(await page.locator('.call .status').textContent()).toBe('denied: not in this folder');
    expect(requests.filter((request) => request.endsWith('/session_state'))).toEqual([]);
    // Reloaded, the chat shows the call as the server recorded it: denied, not done.
    await page.reload();
    await log(page).getByText('Understood, I will not write it.').waitFor();
    expect(await page.locator('.call .status').textContent()).toBe('denied');
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('reloaded mid-answer, completes the answer without showing any part twice', async () => {
    const { page, errors } = await openPage();
    const middle = createHold(1);
    upstream.reply({ text: ['Part one, ', 'part two.'], holds: [middle] });
    await page.goto(server.url);
    await ask(page, 'Two parts please');
    await log(page).getByText('Part one,').waitFor();
    await middle.reached;
    await page.reload();
    await log(page).getByText('Part one,').waitFor();
    expect(await message(page).isDisabled()).toBe(true);
    middle.release();
    await log(page).getByText('Part one, part two.').waitFor();
    await untilIdle(page);
    const text = (await log(page).textContent())!;
    expect(occurrences(text, 'Part one,')).toBe(1);
    expect(occurrences(text, 'Two parts please')).toBe(1);
    // Reloaded once more, the history alone shows it, once.
    await page.reload();
    await untilIdle(page);
    expect(occurrences((await log(page).textContent())!, 'Part one, part two.')).toBe(1);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('reloaded while a call waits for approval, shows the card again, and approving it continues the turn', async () => {
    const { page, errors } = await openPage();
    upstream.reply(
      { text: ['Counting.'], toolCalls: [{ name: 'count', arguments: { label: 'after-reload' } }] },
      { text: ['Counted after the reload.'] },
    );
    await page.goto(server.url);
    await ask(page, 'Count after a reload');
    await page.locator('.call.pending').waitFor();
    await page.reload();
    const card = page.locator('.call.pending');
    await card.waitFor();
    expect(await card.locator('.tool').textContent()).toBe('fault · count');
    expect(await message(page).isDisabled()).toBe(true);
    await card.getByRole('button', { name: 'Allow for this session' }).click();
    await log(page).getByText('Counted after the reload.').waitFor();
    await untilIdle(page);
    expect(await linesOf(countFile)).toContain('after-reload');
    expect(occurrences((await log(page).textContent())!, 'Counting.')).toBe(1);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('reloaded while the continuation after an approval streams, shows the first step once', async () => {
    const { page, errors } = await openPage();
    const middle = createHold(1);
    upstream.reply(
      { text: ['Step one text.'], toolCalls: [{ name: 'count', arguments: { label: 'two-steps' } }] },
      { text: ['Step two, ', 'finished.'], holds: [middle] },
    );
    await page.goto(server.url);
    await ask(page, 'Two steps');
    await page.locator('.call.pending').getByRole('button', { name: 'Approve', exact: true }).click();
    await log(page).getByText('Step two,').waitFor();
    await middle.reached;
    await page.reload();
    await log(page).getByText('Step two,').waitFor();
    middle.release();
    await log(page).getByText('Step two, finished.').waitFor();
    await untilIdle(page);
    const text = (await log(page).textContent())!;
    expect(occurrences(text, 'Step one text.')).toBe(1);
    expect(occurrences(text, 'Step two,')).toBe(1);
    expect(await page.locator('.call').count()).toBe(1);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('a second tab on the same chat follows the running answer, and both end idle', async () => {
    const { page, errors, context } = await openPage();
    const hold = createHold(1);
    upstream.reply({ text: ['Shared ', 'answer.'], holds: [hold] });
    await page.goto(server.url);
    await ask(page, 'Seen twice');
    await log(page).getByText('Shared').waitFor();
    const second = await openPage({ context });
    await second.page.goto(page.url());
    await log(second.page).getByText('Seen twice').waitFor();
    await log(second.page).getByText('Shared').waitFor();
    expect(await message(second.page).isDisabled()).toBe(true);
    hold.release();
    for (const tab of [page, second.page]) {
      await log(tab).getByText('Shared answer.').waitFor();
      await untilIdle(tab);
      expect(occurrences((await log(tab).textContent())!, 'Shared answer.')).toBe(1);
    }
    expect([...errors, ...second.errors]).toEqual([]);
    await context.close();
  });

  it('Stop ends the running answer, keeps what came, and lets the next question be asked', async () => {
    const { page, errors } = await openPage();
    const hold = createHold(1);
    upstream.reply({ text: ['Partial ', 'never sent'], holds: [hold] });
    await page.goto(server.url);
    await ask(page, 'A long answer');
    await log(page).getByText('Partial').waitFor();
    const [request] = upstream.chatRequests().slice(-1);
    await page.getByRole('button', { name: 'Stop' }).click();
    await log(page).getByText('Stopped.').waitFor();
    await untilIdle(page);
    await request.closed;
    hold.release();
    expect(await log(page).textContent()).not.toContain('never sent');
    upstream.reply({ text: ['Next answer.'] });
    await ask(page, 'Another question');
    await log(page).getByText('Next answer.').waitFor();
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('model output can neither run script nor load anything: raw HTML shows as text, javascript: links lose their target', async () => {
    const { page, errors } = await openPage();
    const hostile = [
      'Look: <img src=x onerror="window.pwned = (window.pwned || 0) + 1"> and ',
      '[click me](javascript:window.pwned=2) and ',
      `![tracker](${upstream.url}/tracker.png) and <script>window.pwned = 3</script> `,
      '<a href="javascript:window.pwned=4">raw link</a>',
    ];
    upstream.reply({ text: hostile });
    await page.goto(server.url);
    await ask(page, 'Say something hostile');
    await untilIdle(page);
    const answer = page.locator('.markdown').last();
    expect(await answer.textContent()).toContain('<img src=x onerror=');
    expect(await answer.locator('img, script, iframe').count()).toBe(0);
    const link = answer.getByText('click me');
    expect(await link.getAttribute('href')).toBeNull();
    await link.click();
    await answer.getByText('raw link', { exact: false }).click();
    expect(await page.evaluate(() => (window as { pwned?: number }).pwned)).toBeUndefined();
    expect(upstream.requests.filter((request) => request.path.includes('tracker'))).toEqual([]);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('at 390 px wide, long words, code and tables scroll inside themselves: the page never scrolls sideways', async () => {
    const { page, errors } = await openPage({ width: 390 });
    upstream.reply({
      text: [
        `A long word: ${'x'.repeat(300)}\n\n`,
        `\`\`\`\n${'const value = 1; '.repeat(30)}\n\`\`\`\n\n`,
        `| a | b |\n| --- | --- |\n| ${'wide '.repeat(40)} | ${'y'.repeat(200)} |\n`,
      ],
    });
    await page.goto(server.url);
    await ask(page, `${'z'.repeat(200)} a long question`);
    await page.getByRole('button', { name: 'Copy code' }).waitFor();
    await untilIdle(page);
    const widths = await page.evaluate(() => ({
      document: document.documentElement.scrollWidth,
      body: document.body.scrollWidth,
      viewport: window.innerWidth,
    }));
    expect(widths.viewport).toBe(390);
    expect(widths.document).toBeLessThanOrEqual(390);
    expect(widths.body).toBeLessThanOrEqual(390);
    // The chat list is behind a button on a phone.
    const chats = page.getByRole('navigation', { name: 'Chats' });
    expect(await chats.getByRole('link').isVisible()).toBe(false);
    await page.getByRole('button', { name: 'Chats' }).click();
    await chats.getByRole('link').waitFor({ state: 'visible' });
    expect(errors).toEqual([]);
    await page.context().close();
  });
});

describe('the chat page against a server run with --auth-token', () => {
  it('loads without the token, asks for it once per tab, and every data route still needs it', async () => {
    const token = 'page-token-5b2c9e';
    const guarded = await startServer(['--ollama-base-url', upstream.url, '--auth-token', token], {
      cwd: workDirectory,
    });
    try {
      const shell = await fetch(guarded.url);
      expect(shell.status).toBe(200);
      const html = await shell.text();
      const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((match) => match[1]);
      expect(assets).toHaveLength(2);
      for (const asset of assets) expect((await fetch(`${guarded.url}${asset}`)).status).toBe(200);
      for (const path of ['/session_state', '/docs', '/openapi.json', '/assets/other.js']) {
        expect((await fetch(`${guarded.url}${path}`)).status).toBe(401);
      }
      expect((await fetch(guarded.url, { method: 'POST' })).status).toBe(401);

      const { page, errors } = await openPage();
      upstream.reply({ text: ['Authorised answer.'] });
      await page.goto(guarded.url);
      await ask(page, 'Behind a token');
      await page.getByLabel('Access token').fill('wrong-token');
      await page.getByRole('button', { name: 'Use token' }).click();
      await page.getByText('That token was not accepted').waitFor();
      await page.getByLabel('Access token').fill(token);
      await page.getByRole('button', { name: 'Use token' }).click();
      await log(page).getByText('Authorised answer.').waitFor();
      await untilIdle(page);
      // A reload keeps the token for the tab: the history comes back without asking.
      await page.reload();
      await log(page).getByText('Authorised answer.').waitFor();
      expect(await page.locator('#token-form').isVisible()).toBe(false);
      expect(errors).toEqual([]);
      await page.context().close();
    } finally {
      await guarded.stop();
    }
  }, 60_000);
});

describe('the chat page when the server goes away', () => {
  it('says so while it is gone, and recovers when it is back', async () => {
    const first = await startServer(['--ollama-base-url', upstream.url], { cwd: workDirectory });
    const port = new URL(first.url).port;
    const { page, errors } = await openPage();
    try {
      const hold = createHold(1);
      upstream.reply({ text: ['Before the crash ', 'lost'], holds: [hold] });
      await page.goto(first.url);
      await ask(page, 'Crash now');
      await log(page).getByText('Before the crash').waitFor();
      await first.stop('SIGKILL');
      hold.release();
      await page.locator('#connection', { hasText: 'reconnecting' }).waitFor();

      const second = await startServer(['--ollama-base-url', upstream.url, '--port', port], { cwd: workDirectory });
      try {
        await untilIdle(page);
        expect(await page.locator('#connection').textContent()).toBe('');
        upstream.reply({ text: ['Back again.'] });
        await ask(page, 'Are you back?');
        await log(page).getByText('Back again.').waitFor();
        await untilIdle(page);
      } finally {
        await second.stop();
      }
      expect(errors).toEqual([]);
    } finally {
      await page.context().close();
      await first.stop();
    }
  }, 60_000);
});
