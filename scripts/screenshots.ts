/**
 * Takes the README's screenshots of the chat page (docs/screenshots/*.png): the real server from
 * the sources, the fake upstream as its model, a real MCP server, Debian's Chromium. Run by hand
 * after the page changes (`npx tsx scripts/screenshots.ts`); not part of CI.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { launchChromium } from '../test/helpers/chromium.js';
import { startFakeUpstream } from '../test/helpers/fake-upstream.js';
import { faultServer } from '../test/helpers/mcp-servers.js';
import { startServer } from '../test/helpers/server-process.js';
import { temporaryDirectory } from '../test/helpers/test-app.js';
import { buildPage } from './build-page.js';

const output = new URL('../docs/screenshots/', import.meta.url);
const answer = [
  'Here is a function that **counts words**:\n\n',
  '```ts\nexport function countWords(text: string): number {\n  return text.split(/\\s+/).filter(Boolean).length;\n}\n```\n\n',
  'It splits on runs of whitespace and ignores empty pieces, so `"  a  b "` gives **2**.',
];

await buildPage();
const upstream = await startFakeUpstream();
const directory = await temporaryDirectory();
await writeFile(
  join(directory, 'servers.json'),
  JSON.stringify({ mcpServers: { fault: faultServer(join(directory, 'count.txt')) } }),
);
const server = await startServer(['--ollama-base-url', upstream.url, '--servers-config', 'servers.json'], {
  cwd: directory,
});
const browser = await launchChromium();
try {
  for (const scheme of ['light', 'dark'] as const) {
    const context = await browser.newContext({ viewport: { width: 960, height: 620 }, colorScheme: scheme });
    const page = await context.newPage();
    upstream.reply({ text: answer });
    await page.goto(server.url);
    await page.getByLabel('Message').fill('Write a TypeScript function that counts the words of a text.');
    await page.getByLabel('Message').press('Enter');
    await page.locator('body[data-mode="idle"]').waitFor();
    upstream.reply(
      {
        text: ['I will save it as a file.'],
        toolCalls: [
          {
            name: 'write_note',
            arguments: { path: 'count-words.ts', content: answer[1].replace(/```ts\n|```\n\n/g, '') },
          },
        ],
      },
      { text: ['Saved `count-words.ts`.'] },
    );
    await page.getByLabel('Message').fill('Save it as count-words.ts');
    await page.getByLabel('Message').press('Enter');
    await page.locator('.call.pending').waitFor();
    await page.screenshot({ path: new URL(`approval-${scheme}.png`, output).pathname });
    if (scheme === 'light') {
      await page.getByRole('button', { name: 'Approve', exact: true }).click();
      await page.locator('body[data-mode="idle"]').waitFor();
      await page.screenshot({ path: new URL('answer-light.png', output).pathname });
      const phone = await browser.newContext({ viewport: { width: 390, height: 760 } });
      const small = await phone.newPage();
      await small.goto(page.url());
      await small.locator('body[data-mode="idle"]').waitFor();
      await small.screenshot({ path: new URL('phone-light.png', output).pathname });
      await phone.close();
    }
    await context.close();
  }
} finally {
  await browser.close();
  await server.stop();
  await upstream.close();
}
