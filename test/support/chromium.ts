import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium (npm test installs it with scripts/ensure-debian-packages.sh); never a downloaded browser. */
export const CHROMIUM = process.env.BEACON_CHROMIUM ?? '/usr/bin/chromium';

/** Headless Chromium with the flags that keep it quiet and fast on a small CI machine (docs/testing.md). */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not at ${CHROMIUM}: run \`sh scripts/ensure-debian-packages.sh chromium\` (npm test does), or set BEACON_CHROMIUM`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: 30_000,
  });
}

/** A desktop Chrome user agent for this Chromium's version: "HeadlessChrome" would be flagged as a bot. */
export function desktopUserAgent(browser: Browser): string {
  return `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${browser.version()} Safari/537.36`;
}
