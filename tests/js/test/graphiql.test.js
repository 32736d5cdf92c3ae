// The GraphiQL playground at GET /graphql in Debian's Chromium, driven by
// playwright-core as a person would use it: log in with a mutation, paste the
// token into the headers pane, run a query and a subscription, read the result.
// Every request the page makes must stay on this server (no CDN).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

import { ARTIFACT_DIR, BASE_URL, CHROMIUM, USERNAME, PASSWORD, login } from '../lib/env.js';
import { makePng } from '../lib/png.js';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Replaces the text of the CodeMirror editor inside `container` (a paste). */
async function pasteInto(page, container, text) {
  await page.locator(`${container} .CodeMirror`).first().click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Backspace');
  await page.keyboard.insertText(text);
  const value = await page.evaluate((sel) => document.querySelector(`${sel} .CodeMirror`).CodeMirror.getValue(), container);
  assert.equal(value, text, `editor ${container} holds what was pasted`);
}

/** The response pane's text once `predicate(text)` holds. */
async function resultWhen(page, predicate, what) {
  let text = '';
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    text = await page.evaluate(() => document.querySelector('.result-window .CodeMirror')?.CodeMirror.getValue() ?? '');
    if (predicate(text)) return text;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`result pane never showed ${what}; it shows: ${text}`);
}

async function uploadPng() {
  const token = await login();
  const form = new FormData();
  form.append('operations', JSON.stringify({ query: 'mutation($f: Upload!) { uploadImage(file: $f) { id } }', variables: { f: null } }));
  form.append('map', JSON.stringify({ 0: ['variables.f'] }));
  form.append('0', new File([makePng(600, 400)], 'playground.png', { type: 'image/png' }));
  const res = await fetch(`${BASE_URL}/graphql`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Apollo-Require-Preflight': 'true' },
    body: form,
  });
  return (await res.json()).data.uploadImage.id;
}

test('GraphiQL in Chromium: log in, set the Authorization header, run a query and a subscription', async (t) => {
  const origin = new URL(BASE_URL).origin;
  const profile = mkdtempSync(join(tmpdir(), 'image-vault-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1440, height: 900 },
  });
  t.after(async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  });

  const foreign = [];
  const problems = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith('data:')) return route.continue();
    foreign.push(url);
    return route.abort('blockedbyclient');
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const sockets = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource.*404/.test(m.text())) problems.push(`console error: ${m.text()}`);
  });

  const response = await page.goto(`${BASE_URL}/graphql`);
  assert.equal(response.status(), 200);
  await page.waitForLoadState('load');
  assert.deepEqual(foreign, [], 'the playground loads nothing from other hosts');
  await page.locator('.graphiql-container').waitFor({ timeout: 15_000 });

  // The schema loaded (introspection): the documentation explorer lists the root types.
  await page.getByRole('button', { name: 'Show Documentation Explorer' }).click();
  await page.locator('.graphiql-doc-explorer').getByText('Query', { exact: true }).first().waitFor({ timeout: 10_000 });

  // 1. Log in with a mutation and read the token from the response pane.
  await pasteInto(page, '.graphiql-query-editor',
    `mutation { login(username: ${JSON.stringify(USERNAME)}, password: ${JSON.stringify(PASSWORD)}) { token } }`);
  await page.locator('.graphiql-execute-button').click();
  const loginText = await resultWhen(page, (s) => s.includes('"token"') || s.includes('"errors"'), 'a token');
  const token = JSON.parse(loginText).data?.login?.token;
  assert.ok(token, `login in GraphiQL: ${loginText}`);

  // 2. The token goes into the headers pane; `me` answers with our user.
  await page.locator('.graphiql-editor-tools').getByRole('button', { name: 'Headers' }).click();
  await pasteInto(page, '.graphiql-editor-tool .graphiql-editor:not(.hidden)',
    JSON.stringify({ Authorization: `Bearer ${token}` }, null, 2));
  await pasteInto(page, '.graphiql-query-editor', '{\n  me {\n    username\n    plan { name thumbnailHeights }\n  }\n}\n');
  await page.locator('.graphiql-execute-button').click();
  const meText = await resultWhen(page, (s) => s.includes('"me"') || s.includes('"errors"'), 'me');
  assert.deepEqual(JSON.parse(meText), {
    data: { me: { username: USERNAME, plan: { name: 'Premium', thumbnailHeights: [200, 400] } } },
  });
  mkdirSync(ARTIFACT_DIR, { recursive: true });
  const shot = join(ARTIFACT_DIR, 'graphiql.png');
  await page.screenshot({ path: shot });
  t.diagnostic(`screenshot: ${shot}`);

  // 3. A subscription over /graphql/ws: GraphiQL sends the headers pane as
  //    the connection_init payload, which is how the server authenticates it.
  const id = await uploadPng();
  await pasteInto(page, '.graphiql-query-editor',
    `subscription Watch {\n  imageUpdated(id: "${id}") {\n    id\n    thumbnails { height status }\n  }\n}\n`);
  // GraphiQL picks the websocket for a subscription from the parsed document,
  // which it updates a moment after an edit; the tab's title is the
  // operation's name once that happened.
  await page.locator('.graphiql-tab-button', { hasText: 'Watch' }).waitFor({ timeout: 5_000 });
  await page.locator('.graphiql-execute-button').click();
  const subText = await resultWhen(page, (s) => s.includes('"errors"') || (s.match(/"READY"/g) ?? []).length === 2, 'both thumbnails READY');
  const sub = JSON.parse(subText);
  assert.equal(sub.data?.imageUpdated?.id, id, subText);
  assert.deepEqual(sockets, [`${origin.replace(/^http/, 'ws')}/graphql/ws`]);
  await page.screenshot({ path: join(ARTIFACT_DIR, 'graphiql-subscription.png') });
  await page.locator('.graphiql-execute-button').click(); // stop the subscription

  assert.deepEqual(foreign, [], 'the playground loads nothing from other hosts');
  assert.deepEqual(problems, [], 'no script errors or CSP violations');
});
