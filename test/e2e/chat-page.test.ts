/**
 * The chat page (GET /) run for real: the server started as `npm start` starts it, on an ephemeral
 * port, and Debian's Chromium driven by playwright-core (no downloaded browser). A question typed in
 * the page streams its answer, a tool call shows an approval card, Approve runs the tool and the
 * continuation appears on the page.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHold } from '../helpers/fake-upstream.js';
import { faultServer } from '../helpers/mcp-servers.js';
import { startServer } from '../helpers/server-process.js';
import { temporaryDirectory } from '../helpers/test-app.js';
import { linesOf } from '../helpers/until-line.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

/** Debian's package (`apt-get install chromium`); .ci/run installs it when missing. */
const chromiumPath = '/usr/bin/chromium';

const upstream = useFakeUpstream();
let server: Awaited<ReturnType<typeof startServer>>;
let browser: Browser;
let countFile: string;

beforeAll(async () => {
  const cwd = await temporaryDirectory();
  countFile = join(cwd, 'count.txt');
  await writeFile(join(cwd, 'servers.json'), JSON.stringify({ mcpServers: { fault: faultServer(countFile) } }));
  server = await startServer(['--ollama-base-url', upstream.url, '--servers-config', 'servers.json'], { cwd });
  // As root (CI containers), Chromium only starts without its sandbox.
  browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** A new page that records the errors its script throws or logs. */
async function openPage(): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  // Below the test's own timeout, so that a wait that fails says what it waited for.
  page.setDefaultTimeout(8000);
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  page.on('console', (message) => {
    // The browser's own request for a favicon, which the server does not have, is no error of the page.
    if (message.type() === 'error' && !message.location().url.endsWith('/favicon.ico')) errors.push(message.text());
  });
  return { page, errors };
}

describe('the chat page in Chromium', () => {
  it('streams the answer to a typed question, asks before a tool runs, and shows the continuation once approved', async () => {
    const { page, errors } = await openPage();
    // The model stops after its first words, so the page must show them before the answer is whole.
    const firstWords = createHold(1);
    upstream.reply(
      {
        text: ['Let me ', 'look that up.'],
        toolCalls: [{ name: 'count', arguments: { label: 'from-the-page' } }],
        holds: [firstWords],
      },
      { text: ['There is ', 'one.'] },
    );
    await page.goto(server.url);
    await page.getByPlaceholder('Ask something').fill('How many are there?');
    await page.getByRole('button', { name: 'Send' }).click();

    const log = page.locator('#log');
    await page.getByText('Let me', { exact: false }).waitFor();
    await firstWords.reached;
    expect(await log.textContent()).not.toContain('look that up.');
    expect(upstream.chatRequests()[0].body.messages.at(-1)).toEqual({ role: 'user', content: 'How many are there?' });
    firstWords.release();

    const approve = page.getByRole('button', { name: 'Approve' });
    await approve.waitFor();
    const card = page.locator('.approval');
    expect(await card.textContent()).toContain('fault/count {"label":"from-the-page"}');
    expect(await log.textContent()).toContain('Let me look that up.');
    expect(await linesOf(countFile)).toEqual([]);

    await approve.click();
    await page.getByText('There is one.').waitFor();
    expect(await card.textContent()).toContain('approved');
    expect(await page.getByText('[count] counted').count()).toBe(1);
    expect(await linesOf(countFile)).toEqual(['from-the-page']);
    const [, continuation] = upstream.chatRequests();
    expect(continuation.body.messages.at(-1)).toMatchObject({ role: 'tool', content: 'counted' });
    expect(upstream.chatRequests()).toHaveLength(2);
    expect(errors).toEqual([]);
    await page.close();
  });
});
