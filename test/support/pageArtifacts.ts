import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Screenshots and other browser-test artefacts (gitignored). */
export const ARTIFACTS = join(ROOT, 'test-artifacts');

/** Saves a screenshot of the viewport as `test-artifacts/<folder>/<name>.png` and returns its path. */
export async function screenshot(page: Page, folder: string, name: string): Promise<string> {
  const dir = join(ARTIFACTS, folder);
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/**
 * Collects the page's uncaught exceptions and console errors, so a test can assert there were
 * none; `strict` adds console warnings and failed requests (a CORS refusal shows as both).
 */
export function pageErrors(page: Page, options: { strict?: boolean } = {}): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`uncaught: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' || (options.strict && msg.type() === 'warning'))
      errors.push(`console ${msg.type()}: ${msg.text()}`);
  });
  if (options.strict)
    page.on('requestfailed', (r) =>
      errors.push(`request failed: ${r.method()} ${r.url().slice(0, 120)} ${r.failure()?.errorText ?? ''}`),
    );
  return errors;
}
