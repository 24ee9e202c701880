import { buildPage } from '../scripts/build-page.js';

/** Vitest global setup: every test sees the page built from the sources as they are now. */
export default async function setup() {
  await buildPage();
}
