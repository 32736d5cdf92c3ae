// The web console (/admin and /) in Chromium, walked as people use it: the
// administrator creates a plan and a user; the user uploads by drag-and-drop,
// watches placeholders become thumbnails, opens an image, shares it with an
// expiring link and deletes it. Every page runs under the server's real CSP
// (a violation is a console error, which fails the test), reaches only this
// server, and never puts the token in a URL. Then axe-core checks every page
// at desktop and phone width, and screenshots of each go to ARTIFACT_DIR.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { BASE_URL, login } from '../lib/env.js';
import { makePng } from '../lib/png.js';
import { assertAccessible, guardedContext, launch, screenshots } from '../lib/browser.js';

const ADMIN = { username: process.env.ADMIN_USERNAME, password: process.env.ADMIN_PASSWORD };
const CAROL = { username: `carol-${process.pid}`, password: 'carol-secret-passphrase' };
const CAROL_CHANGED = 'carol-changed-passphrase';
const CAROL_RESET = 'carol-reset-by-admin';
const PLAN = 'Gallery';

let browser;
/** State the steps hand on: pages, contexts, what they saw. */
const s = {};

before(async () => {
  assert.ok(ADMIN.username && ADMIN.password, 'ADMIN_USERNAME/ADMIN_PASSWORD are set: run with tests/js/run.sh');
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function logIn(page, path, { username, password }) {
  await page.goto(`${BASE_URL}${path}`);
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

/** POSTs a GraphQL request with `token`; resolves with the body. */
async function gqlAs(token, query, variables = {}) {
  const res = await fetch(`${BASE_URL}/graphql`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return res.json();
}

/** `me.username` with `token`, or the refusal's code. */
async function meAs(token) {
  const body = await gqlAs(token, '{ me { username } }');
  return body.data?.me?.username ?? body.errors?.[0]?.extensions?.code;
}

/** Opens carol's page in the administration (she is on the second page of users). */
async function openCarol(page) {
  await page.goto(`${BASE_URL}/admin#/users`);
  await page.locator('tr[data-username]').first().waitFor();
  if (!(await page.locator(`tr[data-username="${CAROL.username}"]`).count())) {
    await page.getByRole('button', { name: 'Next page' }).click();
  }
  await page.getByRole('link', { name: `Manage ${CAROL.username}`, exact: true }).click();
  await page.getByRole('heading', { level: 1, name: CAROL.username, exact: true }).waitFor();
}

/** Every request URL a context's pages make (the token must be in none). */
function recordUrls(context) {
  const urls = [];
  context.on('request', (r) => urls.push(r.url()));
  context.on('page', (p) => p.on('websocket', (ws) => urls.push(ws.url())));
  return urls;
}

test('the administrator logs in at /admin and creates plan "Gallery" with heights 100 and 300', async () => {
  const { context, problems } = await guardedContext(browser);
  s.admin = { context, problems, urls: recordUrls(context) };
  const page = await context.newPage();
  s.admin.page = page;

  const response = await page.goto(`${BASE_URL}/admin`);
  const csp = response.headers()['content-security-policy'];
  assert.match(csp, /script-src 'self';/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  await page.getByRole('heading', { name: 'image-vault administration' }).waitFor();

  // A wrong password is said in words.
  await logIn(page, '/admin', { username: ADMIN.username, password: 'not the password' });
  await page.getByRole('alert').filter({ hasText: 'Wrong username or password.' }).waitFor();

  await logIn(page, '/admin', ADMIN);
  await page.getByRole('heading', { level: 1, name: 'Users' }).waitFor();

  await page.getByRole('link', { name: 'Plans' }).click();
  await page.getByRole('heading', { level: 1, name: 'Plans' }).waitFor();
  await page.locator('tr[data-plan="Basic"]').waitFor();
  await page.getByRole('button', { name: 'New plan…' }).click();
  await page.getByLabel('Name', { exact: true }).fill(PLAN);
  const height = page.getByLabel('Height in pixels');
  await height.fill('100');
  await page.getByRole('button', { name: 'Add height' }).click();
  await height.fill('300');
  await height.press('Enter'); // Enter adds a height, it does not submit the form
  await height.fill('200');
  await page.getByRole('button', { name: 'Add height' }).click();
  await page.getByRole('button', { name: 'Remove 200 px' }).click();
  assert.deepEqual(await page.locator('.chip > span:first-child').allTextContents(), ['100 px', '300 px']);
  await page.getByLabel('Users see a link to the original').check();
  await page.getByLabel('Users may create expiring links').check();
  await page.getByRole('button', { name: 'Create plan' }).click();
  await page.getByRole('status').filter({ hasText: `Created plan ${PLAN}.` }).waitFor();
  const row = page.locator(`tr[data-plan="${PLAN}"]`);
  await row.waitFor();
  assert.equal(await row.locator('td').nth(1).textContent(), '100 px, 300 px');
  assert.equal(await row.locator('td').nth(2).textContent(), 'Yes');
  assert.deepEqual(s.admin.problems, []);
});

test('the administrator creates carol on "Gallery"; a plan in use cannot be deleted, and the page says why', async () => {
  const { page } = s.admin;
  await page.getByRole('link', { name: 'Users' }).click();
  await page.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
  await page.getByLabel('Username', { exact: true }).fill(CAROL.username);
  await page.getByLabel('Password', { exact: true }).fill(CAROL.password);
  await page.getByLabel('Plan', { exact: true }).selectOption({ label: PLAN });
  await page.getByRole('button', { name: 'Create user' }).click();
  await page.getByRole('status').filter({ hasText: `Created user ${CAROL.username}.` }).waitFor();
  const row = page.locator(`tr[data-username="${CAROL.username}"]`);
  await row.waitFor();
  const select = page.getByLabel(`Plan for ${CAROL.username}`, { exact: true });
  assert.equal(await select.locator('option:checked').textContent(), PLAN);

  // The same name twice: refused, in words.
  await page.getByLabel('Username', { exact: true }).fill(CAROL.username);
  await page.getByLabel('Password', { exact: true }).fill(CAROL.password);
  await page.getByRole('button', { name: 'Create user' }).click();
  await page.getByRole('alert').filter({ hasText: 'already exists' }).waitFor();

  // The search runs on the server, over every user, once typing pauses.
  const search = page.getByLabel('Search users by name');
  await search.fill('CAR');
  await page.getByRole('table', { name: /whose name contains “car”/ }).waitFor();
  await page.locator('table[aria-busy="false"]').waitFor();
  assert.deepEqual(await page.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.username)), [CAROL.username]);
  await search.fill('nobody-by-this-name');
  await page.getByText('No users have “nobody-by-this-name” in their name.').waitFor();
  await search.fill('');
  await page.getByRole('table', { name: /^Users, newest first/ }).waitFor();
  await page.locator(`tr[data-username="${CAROL.username}"]`).waitFor();

  await page.getByRole('link', { name: 'Plans' }).click();
  await page.getByRole('button', { name: `Delete plan ${PLAN}` }).click();
  await page.getByRole('button', { name: 'Yes, delete' }).click();
  const refusal = page.getByRole('alert').filter({ hasText: `Plan ${PLAN} was not deleted.` });
  await refusal.waitFor();
  assert.match(await refusal.textContent(), /held by 1 user/);
  await page.locator(`tr[data-plan="${PLAN}"]`).waitFor();
  assert.deepEqual(s.admin.problems, []);
});

test('carol logs in at /, drops a JPEG, a PNG and a text file; the text file is refused in words', async () => {
  const { context, problems } = await guardedContext(browser, { permissions: ['clipboard-read', 'clipboard-write'] });
  s.carol = { context, problems, urls: recordUrls(context) };
  const page = await context.newPage();
  s.carol.page = page;
  const sockets = [];
  page.on('websocket', (ws) => {
    sockets.push(ws.url());
    ws.on('framesent', (f) => {
      if (String(f.payload).includes('connection_init')) s.carol.initSent = String(f.payload);
    });
  });
  s.carol.sockets = sockets;

  await logIn(page, '/', CAROL);
  await page.getByRole('heading', { level: 1, name: 'Your images' }).waitFor();
  assert.match(await page.locator('.plan-line').textContent(), /Gallery.*100 px, 300 px, originals, expiring links/);
  await page.getByText('No images yet.').waitFor();

  // Watch every card's data-state from now on, and mark the document: a
  // reload would lose both.
  await page.evaluate(() => {
    window.__sameDocument = true;
    window.__states = {};
    window.__placeholders = {};
    const record = () => {
      for (const card of document.querySelectorAll('.card')) {
        const name = card.querySelector('.card-name')?.textContent ?? '?';
        const seen = (window.__states[name] ??= []);
        if (seen[seen.length - 1] !== card.dataset.state) seen.push(card.dataset.state);
        const ph = card.querySelector('img.placeholder');
        if (ph) window.__placeholders[name] = ph.getAttribute('src').slice(0, 22);
      }
    };
    new MutationObserver(record).observe(document.body, { subtree: true, childList: true, attributes: true });
  });

  await page.evaluate(async (pngBase64) => {
    const canvas = document.createElement('canvas');
    canvas.width = 640;
    canvas.height = 480;
    const ctx = canvas.getContext('2d');
    const g = ctx.createLinearGradient(0, 0, 640, 480);
    g.addColorStop(0, '#f4a261');
    g.addColorStop(1, '#264653');
    ctx.fillStyle = g;
    ctx.fillRect(0, 0, 640, 480);
    const jpeg = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.9));
    const png = Uint8Array.from(atob(pngBase64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([jpeg], 'sunset.jpg', { type: 'image/jpeg' }));
    dt.items.add(new File([png], 'gradient.png', { type: 'image/png' }));
    dt.items.add(new File(['these are notes, not an image\n'], 'notes.txt', { type: 'text/plain' }));
    const zone = document.querySelector('[data-testid="drop-zone"]');
    for (const type of ['dragenter', 'dragover', 'drop']) {
      zone.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: dt }));
    }
  }, makePng(600, 400).toString('base64'));

  // One progress bar per file, each with its outcome.
  assert.equal(await page.locator('.uploads progress').count(), 3);
  await page.locator('.upload-row[data-filename="sunset.jpg"][data-state="done"]').waitFor();
  await page.locator('.upload-row[data-filename="gradient.png"][data-state="done"]').waitFor();
  const refused = page.locator('.upload-row[data-filename="notes.txt"][data-state="refused"]');
  await refused.waitFor();
  assert.match(await refused.getByRole('alert').textContent(), /not an image the server accepts/);
  assert.equal(await page.locator('.upload-row[data-state="done"] progress').first().getAttribute('value'), '100');
  assert.deepEqual(problems, []);
});

test('placeholders become thumbnails as imageUpdated arrives, without a reload', async () => {
  const { page } = s.carol;
  await page.waitForFunction(() => {
    const cards = [...document.querySelectorAll('.card')];
    return cards.length === 2 && cards.every((c) => c.dataset.state === 'ready');
  }, null, { timeout: 30_000 });
  const { same, states, placeholders, heights } = await page.evaluate(() => ({
    same: window.__sameDocument === true,
    states: window.__states,
    placeholders: window.__placeholders,
    heights: [...document.querySelectorAll('.card img.thumb')].map((i) => i.naturalHeight),
  }));
  assert.equal(same, true, 'the page was not reloaded');
  for (const name of ['sunset.jpg', 'gradient.png']) {
    const seen = states[name];
    assert.equal(seen[0], 'processing', `${name}: ${seen}`);
    assert.ok(seen.includes('placeholder'), `${name} showed its blurhash placeholder: ${seen}`);
    assert.equal(seen[seen.length - 1], 'ready', `${name}: ${seen}`);
    assert.equal(placeholders[name], 'data:image/png;base64,', `${name}'s placeholder is a decoded blurhash`);
  }
  // The grid shows the thumbnail nearest 200 px of the plan's 100 and 300.
  assert.ok(heights.every((h) => h === 100 || h === 300), `${heights}`);
  // Subscriptions went over the one socket, with the token in connection_init.
  assert.deepEqual([...new Set(s.carol.sockets)], [`${BASE_URL.replace(/^http/, 'ws')}/graphql/ws`]);
  assert.match(s.carol.initSent, /"Authorization":"Bearer /);
  await screenshots(page, 'gallery-after-upload');
  assert.deepEqual(s.carol.problems, []);
});

test("carol opens an image: the 100 and 300 px thumbnails and the original load", async () => {
  const { page } = s.carol;
  await page.locator('.card', { hasText: 'gradient.png' }).getByRole('link').click();
  await page.getByRole('heading', { level: 1, name: 'gradient.png' }).waitFor();
  const thumbs = await page.waitForFunction(() => {
    const imgs = [...document.querySelectorAll('.thumb-figure img:not(.placeholder)')];
    const done = imgs.length === 2 && imgs.every((i) => i.complete && i.naturalHeight > 0);
    return done && imgs.map((i) => ({ alt: i.alt, height: i.naturalHeight, width: i.naturalWidth }));
  });
  assert.deepEqual(await thumbs.jsonValue(), [
    { alt: 'gradient.png, 100 px thumbnail', height: 100, width: 150 },
    { alt: 'gradient.png, 300 px thumbnail', height: 300, width: 450 },
  ]);
  const original = await page.waitForFunction(() => {
    const img = document.querySelector('img.original');
    return img && img.complete && img.naturalHeight > 0 && { height: img.naturalHeight, width: img.naturalWidth };
  });
  assert.deepEqual(await original.jsonValue(), { height: 400, width: 600 });
  await page.getByRole('link', { name: 'Open the original' }).waitFor();
  assert.deepEqual(s.carol.problems, []);
});

test('carol creates an expiring link, copies it, it works in a fresh browser context, and she revokes it', async () => {
  const { page } = s.carol;
  const lifetime = page.getByLabel('Lifetime in seconds (300 to 30000)');
  await lifetime.fill('600');
  await page.getByRole('button', { name: 'Create link' }).click();
  await page.getByRole('status').filter({ hasText: 'Link created' }).waitFor();
  const url = await page.getByLabel('Link 1', { exact: true }).inputValue();
  assert.match(url, new RegExp(`^${BASE_URL}/links/`));
  await page.getByRole('button', { name: 'Copy link 1' }).click();
  await page.getByRole('status').filter({ hasText: 'Link copied to the clipboard.' }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), url);

  const stranger = await browser.newContext();
  try {
    const other = await stranger.newPage();
    const res = await other.goto(url);
    assert.equal(res.status(), 200);
    assert.equal(res.headers()['content-type'], 'image/png');
    assert.equal(await other.evaluate(() => document.querySelector('img')?.naturalHeight), 400);

    await page.getByRole('button', { name: 'Revoke link 1' }).click();
    await page.getByRole('status').filter({ hasText: 'Link revoked' }).waitFor();
  } finally {
    await stranger.close();
  }
  // Revoked: a browser that has not followed it before gets 410 Gone. (One
  // that has may reuse the redirect it cached, for at most its max-age: the
  // server's choice, see src/http/links.rs.)
  const later = await browser.newContext();
  try {
    const gone = await later.request.get(url, { maxRedirects: 0 });
    assert.equal(gone.status(), 410);
  } finally {
    await later.close();
  }
  await screenshots(page, 'image');
  assert.deepEqual(s.carol.problems, []);
});

test('carol deletes the image and is back in the gallery with the other one', async () => {
  const { page } = s.carol;
  s.carol.imageUrl = page.url();
  // By keyboard: the question takes the focus, on "Keep it"; Shift+Tab
  // reaches "Yes, delete it".
  await page.getByRole('button', { name: 'Delete this image…' }).focus();
  await page.keyboard.press('Enter');
  await page.getByText('for good? Its thumbnails and expiring links go with it.').waitFor();
  await page.waitForFunction(() => document.activeElement?.textContent === 'Keep it');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.activeElement?.textContent === 'Delete this image…');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.activeElement?.textContent === 'Keep it');
  await page.keyboard.press('Shift+Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Yes, delete it');
  await page.keyboard.press('Enter');
  await page.getByRole('status').filter({ hasText: 'Deleted gradient.png.' }).waitFor();
  await page.getByRole('heading', { level: 1, name: 'Your images' }).waitFor();
  await page.waitForFunction(() => document.querySelectorAll('.card').length === 1);
  assert.equal(await page.locator('.card .card-name').textContent(), 'sunset.jpg');
  // Its page now says so.
  await page.goto(s.carol.imageUrl);
  await page.getByRole('heading', { level: 1, name: 'Image not found' }).waitFor();
  assert.deepEqual(s.carol.problems, []);
});

test('a file over MAX_UPLOAD_BYTES, chosen with the file picker, goes by direct upload with its progress', async () => {
  const { page } = s.carol;
  const limit = Number(process.env.MAX_UPLOAD_BYTES);
  assert.ok(limit > 0, 'run.sh sets MAX_UPLOAD_BYTES');
  const side = Math.ceil(Math.sqrt(limit / 3)) + 64;
  const big = makePng(side, side, { noise: true });
  assert.ok(big.length > limit, `${big.length} > ${limit}`);
  const puts = [];
  page.on('request', (r) => {
    if (r.method() === 'PUT') puts.push(new URL(r.url()).pathname);
  });
  const progress = [];
  await page.exposeFunction('__progress', (v) => progress.push(v));
  await page.evaluate(() => {
    new MutationObserver(() => {
      const bar = document.querySelector('.upload-row[data-filename="noise.png"] progress');
      if (bar) window.__progress(bar.getAttribute('value'));
    }).observe(document.body, { subtree: true, attributes: true, childList: true });
  });
  await page.getByRole('link', { name: 'Back to the gallery' }).click();
  await page.getByRole('button', { name: 'Choose files…' }).waitFor();
  await page.getByLabel('Delete the uploaded images automatically').selectOption({ label: 'After 1 hour' });
  await page.locator('input[type="file"]').setInputFiles({ name: 'noise.png', mimeType: 'image/png', buffer: big });
  await page.locator('.upload-row[data-filename="noise.png"][data-state="done"]').waitFor({ timeout: 30_000 });
  assert.equal(puts.length, 1, `one PUT: ${puts}`);
  assert.match(puts[0], /^\/uploads\//);
  assert.ok(progress.some((v) => Number(v) > 0 && Number(v) < 100) || progress.includes('100'), `progress: ${progress}`);
  await page.waitForFunction(() => document.querySelector('.card[data-state="ready"] .card-name')?.textContent === 'noise.png', null, { timeout: 30_000 });
  // Its expiry is shown; the image uploaded without one shows none.
  assert.match(await page.locator('.card', { hasText: 'noise.png' }).locator('.expiry').textContent(), /^Expires in (60 minutes|1 hour)$/);
  assert.equal(await page.locator('.card', { hasText: 'sunset.jpg' }).locator('.expiry').count(), 0);
  assert.deepEqual(s.carol.problems, []);
});

test('the session survives a reload, is refused at /admin for a user; a refused token or a socket closed with 4403 signs the page out', async () => {
  const { page, context } = s.carol;
  await page.goto(`${BASE_URL}/`);
  await page.getByRole('heading', { level: 1, name: 'Your images' }).waitFor();
  await page.goto(`${BASE_URL}/admin`);
  await page.getByRole('heading', { level: 1, name: 'Not an administrator' }).waitFor();
  await page.goto(`${BASE_URL}/`);
  await page.getByRole('heading', { level: 1, name: 'Your images' }).waitFor();

  // The token was never part of any URL.
  const { token } = await page.evaluate(() => JSON.parse(sessionStorage.getItem('image-vault.session')));
  for (const ctx of [s.carol, s.admin]) {
    assert.ok(ctx.urls.length > 10);
    assert.deepEqual(ctx.urls.filter((u) => u.includes(token) || /token=|bearer/i.test(u)), []);
  }

  // A token the server no longer accepts (here: a broken signature). Wait
  // for the page's own requests first: `me` answering rewrites the session.
  await page.waitForLoadState('networkidle');
  await page.evaluate(() => {
    const stored = JSON.parse(sessionStorage.getItem('image-vault.session'));
    stored.token = `${stored.token.slice(0, -6)}AAAAAA`;
    sessionStorage.setItem('image-vault.session', JSON.stringify(stored));
  });
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'Log in to image-vault' }).waitFor();
  await page.getByText('You have been signed out').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('image-vault.session')), null);

  // Log in again, then out with the button.
  await logIn(page, '/', CAROL);
  await page.getByRole('heading', { level: 1, name: 'Your images' }).waitFor();
  const before = await page.evaluate(() => JSON.parse(sessionStorage.getItem('image-vault.session')).token);
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('heading', { level: 1, name: 'Log in to image-vault' }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('image-vault.session')), null);
  // Log out ended the session on the server too (`logout`), not only in this tab.
  assert.equal(await meAs(before), 'UNAUTHENTICATED');

  // The server closing the subscription socket with 4403 (what it does when
  // a session ends while the socket is open) signs the page out too. The
  // socket is played by the test: it acknowledges connection_init, then
  // closes at the first subscription (the new image's imageUpdated).
  await logIn(page, '/', CAROL);
  await page.getByRole('heading', { level: 1, name: 'Your images' }).waitFor();
  let init = null;
  await page.routeWebSocket(/\/graphql\/ws$/, (ws) => {
    ws.onMessage((text) => {
      const msg = JSON.parse(String(text));
      if (msg.type === 'connection_init') {
        init = msg.payload;
        ws.send(JSON.stringify({ type: 'connection_ack' }));
      }
      if (msg.type === 'subscribe') ws.close({ code: 4403, reason: 'Forbidden' });
    });
  });
  await page.locator('input[type="file"]').setInputFiles({ name: 'late.png', mimeType: 'image/png', buffer: makePng(64, 48) });
  await page.getByRole('heading', { level: 1, name: 'Log in to image-vault' }).waitFor();
  await page.getByText('You have been signed out').waitFor();
  assert.match(init?.Authorization ?? '', /^Bearer /);
  assert.deepEqual(s.carol.problems, []);
  await context.close();
});

test('the administrator sees carol on her plan, pages through users, deletes an unused plan and edits one', async () => {
  const { page, context } = s.admin;
  await page.getByRole('link', { name: 'Users' }).click();
  await page.locator(`tr[data-username="${CAROL.username}"]`).waitFor();
  assert.equal(await page.getByLabel(`Plan for ${CAROL.username}`, { exact: true }).locator('option:checked').textContent(), PLAN);
  // Move carol to Premium and back: the plan select saves.
  await page.getByLabel(`Plan for ${CAROL.username}`, { exact: true }).selectOption({ label: 'Premium' });
  await page.getByRole('button', { name: `Set plan for ${CAROL.username}` }).click();
  await page.getByRole('status').filter({ hasText: `${CAROL.username} is now on Premium.` }).waitFor();
  await page.getByLabel(`Plan for ${CAROL.username}`, { exact: true }).selectOption({ label: PLAN });
  await page.getByRole('button', { name: `Set plan for ${CAROL.username}` }).click();
  await page.getByRole('status').filter({ hasText: `${CAROL.username} is now on ${PLAN}.` }).waitFor();

  // Paging: with more users than a page holds (20), Next and Previous.
  const token = await login(ADMIN.username, ADMIN.password);
  for (let i = 0; i < 20; i++) {
    const res = await fetch(`${BASE_URL}/graphql`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify({
        query: 'mutation($input: CreateUserInput!) { createUser(input: $input) { id } }',
        variables: { input: { username: `pager-${String(i).padStart(2, '0')}-${process.pid}`, password: 'pager-password' } },
      }),
    });
    assert.ok((await res.json()).data?.createUser?.id);
  }
  await page.reload();
  await page.locator('tbody tr').first().waitFor();
  assert.equal(await page.locator('tbody tr').count(), 20);
  assert.equal(await page.locator(`tr[data-username="${CAROL.username}"]`).count(), 0, 'carol is older than the newest 20');
  await page.getByRole('button', { name: 'Next page' }).click();
  await page.locator(`tr[data-username="${CAROL.username}"]`).waitFor();
  await page.getByText('Page 2', { exact: true }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Next page' }).isDisabled(), true);
  await page.getByRole('button', { name: 'Previous page' }).click();
  await page.locator(`tr[data-username="pager-19-${process.pid}"]`).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Previous page' }).isDisabled(), true);

  // A plan nobody holds can be deleted.
  await page.getByRole('link', { name: 'Plans' }).click();
  await page.getByRole('button', { name: 'New plan…' }).click();
  await page.getByLabel('Name', { exact: true }).fill('Spare');
  await page.getByRole('button', { name: 'Create plan' }).click();
  await page.locator('tr[data-plan="Spare"]').waitFor();
  await page.getByRole('button', { name: 'Delete plan Spare' }).click();
  await page.getByRole('button', { name: 'Yes, delete' }).click();
  await page.getByRole('status').filter({ hasText: 'Deleted plan Spare.' }).waitFor();
  await page.locator('tr[data-plan="Spare"]').waitFor({ state: 'detached' });

  // Edit the plan: add a height, save, see it.
  await page.getByRole('button', { name: `Edit plan ${PLAN}` }).click();
  await page.getByRole('heading', { name: `Edit plan ${PLAN}` }).waitFor();
  await page.getByLabel('Height in pixels').fill('150');
  await page.getByRole('button', { name: 'Add height' }).click();
  await page.getByRole('button', { name: 'Save plan' }).click();
  await page.getByRole('status').filter({ hasText: `Saved plan ${PLAN}.` }).waitFor();
  assert.equal(await page.locator(`tr[data-plan="${PLAN}"] td`).nth(1).textContent(), '100 px, 150 px, 300 px');
  assert.deepEqual(s.admin.problems, []);
});

test('carol sees her usage, changes her password, sees her sessions, signs one out, and creates and revokes an API token', async () => {
  const { context, problems } = await guardedContext(browser, { permissions: ['clipboard-read', 'clipboard-write'] });
  s.carol2 = { context, problems };
  const page = await context.newPage();
  s.carol2.page = page;
  // A second session of hers, from a script (its user agent is "node").
  const elsewhere = await login(CAROL.username, CAROL.password);

  await logIn(page, '/', CAROL);
  await page.getByRole('heading', { level: 1, name: 'Your images' }).waitFor();
  // Usage against the plan, above the gallery (Gallery has no quotas yet).
  const images = page.locator('.usage [data-usage="Images"]');
  await images.waitFor();
  assert.match(await images.textContent(), /Images\d+ \(no limit\)/);

  await page.getByRole('link', { name: 'Account' }).click();
  await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();
  const sessions = page.locator('.sessions-table tbody tr');
  await sessions.nth(1).waitFor();
  const current = page.locator('.sessions-table tr[data-current="true"]');
  assert.equal(await current.count(), 1);
  assert.match(await current.textContent(), /Chrome on Linux.*This session/);
  // Sign out elsewhere: the script's session ends at once.
  assert.equal(await meAs(elsewhere), CAROL.username);
  const other = page.getByRole('button', { name: /^Sign out session \d+ \(node\)$/ });
  assert.equal(await other.count(), 1);
  await other.click();
  await page.getByRole('status').filter({ hasText: 'Session signed out.' }).waitFor();
  assert.equal(await meAs(elsewhere), 'UNAUTHENTICATED');

  // A wrong current password is refused in words; the right one changes it.
  await page.getByLabel('Current password').fill('not my password');
  await page.getByLabel('New password', { exact: true }).fill(CAROL_CHANGED);
  await page.getByLabel('New password again').fill(CAROL_CHANGED);
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.locator('section[aria-labelledby="password-heading"] [role="alert"]').waitFor();
  await page.getByLabel('Current password').fill(CAROL.password);
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByRole('status').filter({ hasText: 'Password changed.' }).waitFor();
  CAROL.password = CAROL_CHANGED;
  // This session stays.
  await page.getByRole('link', { name: 'Gallery', exact: true }).click();
  await page.getByRole('heading', { level: 1, name: 'Your images' }).waitFor();
  await page.getByRole('link', { name: 'Account' }).click();
  await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();

  // An API token: the secret is shown once, copied, works, then is hidden for good.
  await page.getByLabel('Token name').fill('ci-script');
  await page.getByLabel('Expires after').selectOption({ label: '90 days' });
  await page.getByRole('button', { name: 'Create token' }).click();
  await page.getByRole('heading', { name: 'Token “ci-script” created' }).waitFor();
  const secret = await page.getByLabel('Secret of ci-script').inputValue();
  assert.match(secret, /^ivt_/);
  await page.getByRole('button', { name: 'Copy token' }).click();
  await page.getByRole('status').filter({ hasText: 'Token copied to the clipboard.' }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
  assert.equal(await meAs(secret), CAROL.username);
  await page.getByRole('button', { name: 'Done, hide it' }).click();
  assert.equal(await page.getByLabel('Secret of ci-script').count(), 0);
  const row = page.locator('tr[data-token="ci-script"]');
  await row.waitFor();
  assert.match(await row.textContent(), /ivt_/);
  assert.equal(await page.getByText(secret).count(), 0, 'the secret is not shown again');
  // The list says when it was last used (the script above used it).
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();
  await row.waitFor();
  assert.notEqual(await row.locator('td[data-label="Last used"]').textContent(), 'Never');
  await screenshots(page, 'account');

  await page.getByRole('button', { name: 'Revoke token ci-script' }).click();
  await page.getByText('Revoke ci-script? Scripts using it stop working.').waitFor();
  await page.waitForFunction(() => document.activeElement?.textContent === 'Keep it');
  await page.getByRole('button', { name: 'Yes, revoke' }).click();
  await page.getByRole('status').filter({ hasText: 'Token ci-script revoked.' }).waitFor();
  await row.waitFor({ state: 'detached' });
  assert.equal(await meAs(secret), 'UNAUTHENTICATED');
  assert.deepEqual(problems, []);
});

test("the administrator opens carol's page: usage, her sessions and tokens; revokes a session and a token, resets her password", async () => {
  const { page } = s.admin;
  const elsewhere = await login(CAROL.username, CAROL.password);
  const made = await gqlAs(elsewhere, 'mutation { createApiToken(name: "nightly-backup", expiresIn: 86400) { secret } }');
  const backup = made.data.createApiToken.secret;

  await openCarol(page);
  assert.match(await page.locator('[data-usage="Images"]').textContent(), /Images\d+ \(no limit\)/);
  const sessions = page.locator('.sessions-table tbody tr');
  await sessions.nth(1).waitFor();
  assert.equal(await page.locator('.sessions-table tr[data-current="true"]').count(), 0, "none of carol's is the admin's");
  await page.getByRole('button', { name: /^Sign out session \d+ \(node\)$/ }).click();
  await page.getByRole('status').filter({ hasText: 'Session signed out.' }).waitFor();
  assert.equal(await meAs(elsewhere), 'UNAUTHENTICATED');
  await page.locator('tr[data-token="nightly-backup"]').waitFor();
  await screenshots(page, 'admin-user');
  await page.getByRole('button', { name: 'Revoke token nightly-backup' }).click();
  await page.getByRole('button', { name: 'Yes, revoke' }).click();
  await page.getByRole('status').filter({ hasText: 'Token nightly-backup revoked.' }).waitFor();
  assert.equal(await meAs(backup), 'UNAUTHENTICATED');

  await page.getByLabel('New password', { exact: true }).fill(CAROL_RESET);
  await page.getByRole('button', { name: 'Reset password' }).click();
  await page.getByRole('status').filter({ hasText: `Password of ${CAROL.username} reset.` }).waitFor();
  CAROL.password = CAROL_RESET;

  // Carol's open page: her next request is refused, and it signs out with a message.
  const carol = s.carol2.page;
  await carol.getByRole('link', { name: 'Gallery', exact: true }).click();
  await carol.getByRole('heading', { level: 1, name: 'Log in to image-vault' }).waitFor();
  await carol.getByText('You have been signed out').waitFor();
  await logIn(carol, '/', CAROL);
  await carol.getByRole('heading', { level: 1, name: 'Your images' }).waitFor();
  assert.deepEqual(s.admin.problems, []);
  assert.deepEqual(s.carol2.problems, []);
});

test('the administrator sets quotas on plan "Gallery"; carol sees them, and an upload over one is refused in words', async () => {
  const { page } = s.admin;
  const carol = s.carol2.page;
  const count = Number((await carol.locator('[data-usage="Images"] .usage-words').textContent()).match(/^\d+/)[0]);
  assert.ok(count >= 1, `carol has ${count} images`);

  await page.getByRole('link', { name: 'Plans' }).click();
  await page.getByRole('button', { name: `Edit plan ${PLAN}` }).click();
  await page.getByLabel('Most images').fill(String(count));
  await page.getByLabel('Most storage (MiB)').fill('100');
  await page.getByLabel('Most uploads an hour').fill('50');
  await page.getByRole('button', { name: 'Save plan' }).click();
  await page.getByRole('status').filter({ hasText: `Saved plan ${PLAN}.` }).waitFor();
  const row = page.locator(`tr[data-plan="${PLAN}"]`);
  assert.equal(await row.locator('td[data-label="Quotas"]').textContent(),
    `${count} image${count === 1 ? '' : 's'}, 100 MiB, 50 uploads an hour`);
  assert.equal(await page.locator('tr[data-plan="Basic"] td[data-label="Quotas"]').count(), 1);
  // How many hold each plan (Plan.userCount), when the server says.
  if (await page.locator('th', { hasText: /^Users$/ }).count()) {
    assert.equal(await row.locator('td[data-label="Users"]').textContent(), '1');
  }

  await carol.reload();
  const images = carol.locator('[data-usage="Images"] .usage-words');
  await images.waitFor();
  assert.equal(await images.textContent(), `${count} of ${count}`);
  assert.match(await carol.locator('[data-usage="Storage"] .usage-words').textContent(), / of 100 MB$/);
  assert.match(await carol.locator('[data-usage="Uploads this hour"] .usage-words').textContent(), /^\d+ of 50$/);
  await carol.locator('input[type="file"]').setInputFiles({ name: 'one-too-many.png', mimeType: 'image/png', buffer: makePng(64, 48) });
  const refused = carol.locator('.upload-row[data-filename="one-too-many.png"][data-state="refused"]');
  await refused.waitFor();
  assert.match(await refused.getByRole('alert').textContent(), /Your plan does not allow more/);
  await screenshots(carol, 'gallery-at-quota');

  // Empty fields: no limit again.
  await page.getByRole('button', { name: `Edit plan ${PLAN}` }).click();
  await page.getByLabel('Most images').fill('');
  await page.getByRole('button', { name: 'Save plan' }).click();
  await page.getByRole('status').filter({ hasText: `Saved plan ${PLAN}.` }).waitFor();
  // The row as the refetch after saving leaves it (once in CI the read
  // right after the status still gave the old quota).
  await row.locator('td[data-label="Quotas"]', { hasText: /^100 MiB, 50 uploads an hour$/ }).waitFor({ timeout: 5000 });
  assert.deepEqual(s.admin.problems, []);
  assert.deepEqual(s.carol2.problems, []);
});

test("the administrator sees carol's images (userImages) with thumbnails and deletes one", async (t) => {
  const { page } = s.admin;
  await page.getByRole('link', { name: 'Images', exact: true }).click();
  await page.getByRole('heading', { level: 1, name: 'Images' }).waitFor();
  await page.getByRole('link', { name: CAROL.username, exact: true }).click();
  await page.getByRole('heading', { level: 1, name: `Images of ${CAROL.username}` }).waitFor();
  await page.waitForFunction(() => document.querySelector('.grid[aria-busy="false"]'));
  if (await page.getByText('does not offer other users').count()) {
    t.skip('this server has no userImages yet');
    return;
  }
  await page.waitForFunction(() => {
    const cards = [...document.querySelectorAll('.card')];
    return cards.length >= 2 && cards.every((c) => c.dataset.state === 'ready');
  });
  const names = await page.locator('.card .card-name').allTextContents();
  assert.ok(names.includes('sunset.jpg'), `${names}`);
  assert.equal(names[names.length - 1], 'sunset.jpg', 'newest first: sunset.jpg was her first');
  await screenshots(page, 'admin-images');
  const victim = names[0];
  await page.getByRole('button', { name: `Delete ${victim}`, exact: true }).click();
  await page.getByRole('button', { name: 'Yes, delete' }).click();
  await page.getByRole('status').filter({ hasText: `Deleted ${victim}.` }).waitFor();
  assert.equal(await page.locator('.card').count(), names.length - 1);
  assert.deepEqual(s.admin.problems, []);
});

test('the audit log shows what the administrators did, newest first', async () => {
  const { page } = s.admin;
  await page.getByRole('link', { name: 'Audit log' }).click();
  await page.getByRole('heading', { level: 1, name: 'Audit log' }).waitFor();
  await page.locator('tbody tr').first().waitFor();
  const actions = await page.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.action));
  for (const a of ['plan.update', 'user.password_reset', 'session.revoke', 'api_token.revoke', 'user.create', 'plan.create']) {
    assert.ok(actions.includes(a), `${a} in ${actions}`);
  }
  // Newest first: the quota change came after the password reset.
  assert.ok(actions.indexOf('plan.update') < actions.indexOf('user.password_reset'), `${actions}`);
  const reset = page.locator('tr[data-action="user.password_reset"]').first();
  assert.match(await reset.textContent(), new RegExp(`${ADMIN.username}.*reset the password of ${CAROL.username}`));
  await page.getByRole('button', { name: 'Next page' }).click();
  await page.getByText('Page 2', { exact: true }).waitFor();
  await page.getByRole('button', { name: 'Previous page' }).click();
  await page.getByText('Page 1', { exact: true }).waitFor();
  await screenshots(page, 'admin-audit');
  assert.deepEqual(s.admin.problems, []);
});

test("the administrator disables carol and her open page ends up signed out; enabled, she logs in again", async () => {
  const { page } = s.admin;
  const carol = s.carol2.page;
  await carol.getByRole('link', { name: 'Account' }).click();
  await carol.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();

  await openCarol(page);
  await page.getByRole('button', { name: `Disable ${CAROL.username}…` }).click();
  await page.getByRole('button', { name: 'Yes, disable' }).click();
  await page.getByRole('status').filter({ hasText: `${CAROL.username} is disabled` }).waitFor();
  await page.getByRole('heading', { name: 'Status: disabled' }).waitFor();
  await page.getByRole('link', { name: '← All users' }).click();
  await page.locator('tr[data-username]').first().waitFor();
  if (!(await page.locator(`tr[data-username="${CAROL.username}"]`).count())) await page.getByRole('button', { name: 'Next page' }).click();
  assert.equal(await page.locator(`tr[data-username="${CAROL.username}"] td[data-label="Status"]`).textContent(), 'Disabled');

  // Carol comes back to her tab: the page asks who it is, is refused, and signs out.
  await carol.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
  await carol.getByRole('heading', { level: 1, name: 'Log in to image-vault' }).waitFor();
  await carol.getByText('You have been signed out').waitFor();
  await logIn(carol, '/', CAROL);
  await carol.getByRole('alert').filter({ hasText: 'Wrong username or password.' }).waitFor();

  await openCarol(page);
  await page.getByRole('button', { name: `Enable ${CAROL.username}` }).click();
  await page.getByRole('status').filter({ hasText: `${CAROL.username} is enabled` }).waitFor();
  await logIn(carol, '/', CAROL);
  await carol.getByRole('heading', { level: 1, name: 'Your images' }).waitFor();

  // Disabled while a subscription is open (thumbnails on their way): the
  // server closes the socket (4401) and the page signs out at once, with no
  // action of hers. The page's WebSocket is watched for its close code.
  await carol.evaluate(() => {
    const Native = window.WebSocket;
    window.__closes = [];
    window.WebSocket = class extends Native {
      constructor(...args) {
        super(...args);
        this.addEventListener('close', (e) => window.__closes.push(e.code));
      }
    };
  });
  let subscribed;
  const started = new Promise((resolve) => { subscribed = resolve; });
  carol.on('websocket', (ws) => ws.on('framesent', (f) => {
    if (String(f.payload).includes('"subscribe"')) subscribed();
  }));
  const side = 1000;
  await carol.locator('input[type="file"]').setInputFiles(['a', 'b', 'c'].map((n) => (
    { name: `noise-${n}.png`, mimeType: 'image/png', buffer: makePng(side, side, { noise: true }) })));
  await started;
  const admin = await login(ADMIN.username, ADMIN.password);
  const carolId = (await carol.evaluate(() => JSON.parse(sessionStorage.getItem('image-vault.session')).user.id));
  const disabled = await gqlAs(admin, 'mutation($id: ID!) { disableUser(id: $id) { disabled } }', { id: carolId });
  assert.equal(disabled.data?.disableUser?.disabled, true, JSON.stringify(disabled));
  await carol.getByRole('heading', { level: 1, name: 'Log in to image-vault' }).waitFor({ timeout: 10_000 });
  await carol.getByText('You have been signed out').waitFor();
  const closes = await carol.evaluate(() => window.__closes);
  assert.ok(closes.includes(4401) || closes.includes(4403), `the server closed the socket for the session: ${closes}`);
  const enabled = await gqlAs(admin, 'mutation($id: ID!) { enableUser(id: $id) { disabled } }', { id: carolId });
  assert.equal(enabled.data?.enableUser?.disabled, false);

  assert.deepEqual(s.admin.problems, []);
  assert.deepEqual(s.carol2.problems, []);
  await s.carol2.context.close();
});

test('the administrator deletes a user after a confirmation that says what goes with them', async () => {
  const { page } = s.admin;
  const name = `pager-00-${process.pid}`;
  await page.goto(`${BASE_URL}/admin#/users`);
  await page.locator(`tr[data-username="${name}"]`).waitFor();
  await page.getByRole('link', { name: `Manage ${name}`, exact: true }).click();
  await page.getByRole('heading', { level: 1, name, exact: true }).waitFor();
  await page.getByRole('button', { name: `Delete ${name}…` }).click();
  const question = page.getByRole('group').filter({ hasText: `Delete ${name} for good?` });
  await question.waitFor();
  assert.match(await question.textContent(), /0 images and every thumbnail, expiring link, unfinished upload, session and API token/);
  await page.waitForFunction(() => document.activeElement?.textContent === 'Keep');
  await page.getByRole('button', { name: `Yes, delete ${name}` }).click();
  await page.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
  await page.getByRole('status').filter({ hasText: `Deleted ${name} and everything of theirs.` }).waitFor();
  await page.locator('tr[data-username]').first().waitFor();
  assert.equal(await page.locator(`tr[data-username="${name}"]`).count(), 0);
  assert.deepEqual(s.admin.problems, []);
});

/** A PNG whose header passes the upload checks and whose pixels do not decode. */
function corruptPng() {
  const png = makePng(64, 64);
  for (let i = 60; i < png.length - 20; i++) png[i] = 0x5a;
  return png;
}

test('the Operations page shows the job queue and readiness; a failed job shows its error and is retried', async (t) => {
  const { page, context } = s.admin;
  await page.getByRole('link', { name: 'Operations' }).click();
  await page.getByRole('heading', { level: 1, name: 'Operations' }).waitFor();
  await page.waitForFunction(() => document.querySelector('[data-readiness], .note'));
  if (await page.getByText('does not offer the queue').count()) {
    t.skip('this server has no queue/readiness API yet');
    await context.close();
    return;
  }
  assert.equal(await page.locator('[data-readiness="Database"]').textContent(), 'Database: ready');
  assert.equal(await page.locator('[data-readiness="Storage"]').textContent(), 'Storage: ready');
  for (const stat of ['queued', 'running', 'failed']) {
    assert.match(await page.locator(`[data-stat="${stat}"] dd`).textContent(), /^\d+$/);
  }
  await page.getByRole('heading', { name: 'Failed jobs' }).waitFor();

  // An image whose thumbnails cannot be made: its job fails for good.
  const token = await login(ADMIN.username, ADMIN.password);
  const form = new FormData();
  form.append('operations', JSON.stringify({ query: 'mutation($f: Upload!) { uploadImage(file: $f) { id } }', variables: { f: null } }));
  form.append('map', JSON.stringify({ 0: ['variables.f'] }));
  form.append('0', new Blob([corruptPng()], { type: 'image/png' }), 'broken.png');
  const res = await fetch(`${BASE_URL}/graphql`, {
    method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Apollo-Require-Preflight': 'true' }, body: form,
  });
  const uploaded = await res.json();
  assert.ok(uploaded.data?.uploadImage?.id, JSON.stringify(uploaded));
  const failed = page.locator('.jobs-table tbody tr').first();
  for (let i = 0; i < 50 && !(await failed.count()); i++) {
    await page.getByRole('button', { name: 'Check again' }).click();
    await page.waitForFunction(() => !document.querySelector('button[disabled]'));
    if (!(await failed.count())) await new Promise((r) => setTimeout(r, 200));
  }
  await failed.waitFor();
  assert.match(await failed.locator('td[data-label="Job"]').textContent(), /make_thumbnails/);
  assert.notEqual((await failed.locator('td[data-label="Last error"]').textContent()).trim(), '—');
  assert.notEqual(await page.locator('[data-stat="failed"] dd').textContent(), '0');
  await screenshots(page, 'admin-operations');
  const id = await failed.getAttribute('data-job');
  await page.getByRole('button', { name: `Retry job ${id}` }).click();
  await page.getByRole('status').filter({ hasText: `(${id}) queued again.` }).waitFor();
  await gqlAs(token, 'mutation($id: ID!) { deleteImage(id: $id) }', { id: uploaded.data.uploadImage.id });
  assert.deepEqual(s.admin.problems, []);
  await context.close();
});

test('every console page has no serious or critical axe-core findings, at desktop and phone width; screenshots', async () => {
  // axe is injected as a script, which the console's CSP forbids: this
  // context (and only this one) bypasses the CSP.
  const { context, problems } = await guardedContext(browser, { bypassCSP: true });
  try {
    const admin = await context.newPage();
    await admin.goto(`${BASE_URL}/admin`);
    await admin.getByRole('heading', { name: 'image-vault administration' }).waitFor();
    await assertAccessible(admin, 'admin login');
    await screenshots(admin, 'admin-login');
    await logIn(admin, '/admin', ADMIN);
    await admin.locator(`tr[data-username="pager-19-${process.pid}"]`).waitFor();
    await assertAccessible(admin, 'admin users');
    await screenshots(admin, 'admin-users');
    await admin.getByRole('link', { name: 'Plans' }).click();
    await admin.locator(`tr[data-plan="${PLAN}"]`).waitFor();
    await assertAccessible(admin, 'admin plans');
    await screenshots(admin, 'admin-plans');
    await admin.getByRole('button', { name: 'New plan…' }).click();
    await admin.getByLabel('Height in pixels').fill('120');
    await admin.getByRole('button', { name: 'Add height' }).click();
    await assertAccessible(admin, 'admin plan editor');
    await screenshots(admin, 'admin-plan-editor');
    await openCarol(admin);
    // Disabled and enabled again, she has no live session now.
    await admin.getByText('No live sessions.').waitFor();
    await admin.getByRole('button', { name: `Delete ${CAROL.username}…` }).click();
    await admin.getByText('With them go their').waitFor();
    await assertAccessible(admin, 'admin user page');
    await screenshots(admin, 'admin-user-delete-question');
    await admin.getByRole('button', { name: 'Keep', exact: true }).click();
    for (const [link, heading, name] of [['Images', 'Images', 'admin-images-pick'], ['Operations', 'Operations', 'admin-operations-axe'], ['Audit log', 'Audit log', 'admin-audit-axe']]) {
      await admin.getByRole('link', { name: link, exact: true }).click();
      await admin.getByRole('heading', { level: 1, name: heading }).waitFor();
      await admin.waitForLoadState('networkidle');
      await assertAccessible(admin, `admin ${heading}`);
      if (link === 'Images') await screenshots(admin, name);
    }
    await admin.getByRole('link', { name: 'Images', exact: true }).click();
    await admin.getByRole('link', { name: CAROL.username, exact: true }).click();
    await admin.getByRole('heading', { level: 1, name: `Images of ${CAROL.username}` }).waitFor();
    await admin.waitForLoadState('networkidle');
    await assertAccessible(admin, 'admin images of carol');

    const user = await context.newPage();
    await user.goto(`${BASE_URL}/`);
    await user.getByRole('heading', { name: 'Log in to image-vault' }).waitFor();
    await assertAccessible(user, 'login');
    await screenshots(user, 'login');
    // Keyboard only: the username field has the focus, Tab, Enter.
    await user.keyboard.type(CAROL.username);
    await user.keyboard.press('Tab');
    await user.keyboard.type(CAROL.password);
    await user.keyboard.press('Enter');
    await user.getByRole('heading', { level: 1, name: 'Your images' }).waitFor();
    await user.waitForFunction(() => document.querySelector('.card')?.dataset.state === 'ready');
    await assertAccessible(user, 'gallery');
    await screenshots(user, 'gallery');
    await user.locator('.card').first().getByRole('link').click();
    await user.waitForFunction(() => {
      const imgs = [...document.querySelectorAll('.thumb-figure img, img.original')];
      return imgs.length === 4 && imgs.every((i) => i.complete && i.naturalHeight > 0);
    });
    await user.getByRole('button', { name: 'Create link' }).click();
    await user.getByRole('status').filter({ hasText: 'Link created' }).waitFor();
    await assertAccessible(user, 'image page');
    await screenshots(user, 'image-with-link');
    await user.getByRole('link', { name: 'Account' }).click();
    await user.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();
    await user.getByLabel('Token name').fill('axe');
    await user.getByRole('button', { name: 'Create token' }).click();
    await user.getByRole('heading', { name: 'Token “axe” created' }).waitFor();
    await assertAccessible(user, 'account page');
    await screenshots(user, 'account-new-token');
    await user.goto(`${BASE_URL}/admin`);
    await user.getByRole('heading', { name: 'Not an administrator' }).waitFor();
    await assertAccessible(user, 'not an administrator');
    await screenshots(user, 'not-admin');
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});
