import { type Browser, chromium } from 'playwright-core';

/** Debian's package (`apt-get install chromium`); .ci/run installs it when missing. No browser is downloaded. */
export const chromiumPath = '/usr/bin/chromium';

/** Debian's Chromium, headless; as root (CI containers) it only starts without its sandbox. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
}
