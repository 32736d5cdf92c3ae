// Chromium for the browser suites: Debian's binary driven by playwright-core
// (never a downloaded browser), a watch on what pages do that they should not
// (requests to other hosts, script errors, CSP violations), screenshots, and
// axe-core.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

import { ARTIFACT_DIR, BASE_URL, CHROMIUM } from './env.js';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

export function launch() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/**
 * A context whose pages may reach only this server; `problems` collects
 * script errors, console errors (CSP violations among them) and requests to
 * other hosts. Resource loads the server answers with an error status (a
 * refused upload is a 415) are expected and not counted.
 */
export async function guardedContext(browser, options = {}) {
  const origin = new URL(BASE_URL).origin;
  const context = await browser.newContext({ viewport: DESKTOP, ...options });
  const problems = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
    problems.push(`request to another host: ${url}`);
    return route.abort('blockedbyclient');
  });
  const watch = (page) => {
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of/.test(m.text())) {
        problems.push(`console error: ${m.text()}`);
      }
    });
  };
  context.on('page', watch);
  return { context, problems };
}

let shots = 0;

/** Screenshots of `page` at desktop and phone width, as target/playwright/console-<name>-{desktop,phone}.png. */
export async function screenshots(page, name) {
  mkdirSync(ARTIFACT_DIR, { recursive: true });
  const before = page.viewportSize() ?? DESKTOP;
  const files = [];
  for (const [label, size] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    await page.setViewportSize(size);
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    const path = join(ARTIFACT_DIR, `console-${name}-${label}.png`);
    await page.screenshot({ path, fullPage: true });
    files.push(path);
    shots += 1;
  }
  await page.setViewportSize(before);
  return files;
}

export function screenshotCount() {
  return shots;
}

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Runs axe-core (WCAG 2.x A and AA rules) on the page at desktop and at
 * phone width and fails on serious or critical findings. The page's CSP
 * blocks injected scripts, so its context must have `bypassCSP: true`.
 */
export async function assertAccessible(page, name) {
  const before = page.viewportSize() ?? DESKTOP;
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
    await page.addScriptTag({ content: AXE_SOURCE });
  }
  for (const size of [DESKTOP, PHONE]) {
    await page.setViewportSize(size);
    const result = await page.evaluate(async () => {
      const r = await window.axe.run(document, {
        runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
        resultTypes: ['violations'],
      });
      return r.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')),
      }));
    });
    const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    assert.deepEqual(bad, [], `axe on ${name} at ${size.width} px: ${JSON.stringify(bad, null, 2)}`);
  }
  await page.setViewportSize(before);
}
