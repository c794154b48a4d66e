import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import { chromium, type Browser, type Page } from 'playwright-core';
import { UI_ASSETS_DIR } from '../../src/api/http/ui-routes.js';
import { requireTool } from './services.js';

export const CHROMIUM = '/usr/bin/chromium';
/** Where the console tests write their screenshots (linked from the README). */
export const SCREENSHOT_DIR = resolve(import.meta.dirname, '..', '..', 'docs', 'console');

/** Whether Chromium is here (with CI=true its absence is a failure, not a skip). */
export function haveChromium(): boolean {
  return requireTool(CHROMIUM, 'Chromium (apt-get install -y chromium)');
}

/** The console must be built (`npm run build`, which `npm test` runs first) before it can be served. */
export function requireBuiltConsole(): void {
  if (!existsSync(join(UI_ASSETS_DIR, 'index.html'))) throw new Error(`the web console is not built (${UI_ASSETS_DIR}): run npm run build first`);
}

/** Debian's Chromium, headless, with nothing that phones home. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    timeout: 120_000,
  });
}

/** axe-core's violations of impact serious or critical on the page as it is now. */
export async function seriousViolations(page: Page): Promise<Array<{ id: string; impact: string; help: string; targets: string[] }>> {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact ?? '', help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}
