// graphql-ws on its own (no Apollo): the subscription snippet of the README's
// "Front-end clients" section, and what a wrong token gets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

import { BASE_URL, login } from '../lib/env.js';
import { makePng, pngSize } from '../lib/png.js';
import { download } from '../lib/wait.js';

const WS_URL = `${BASE_URL.replace(/^http/, 'ws')}/graphql/ws`;

/** A multipart upload with plain fetch + FormData (no client library). */
async function upload(token, bytes, name) {
  const form = new FormData();
  form.append('operations', JSON.stringify({
    query: 'mutation($file: Upload!) { uploadImage(file: $file) { id } }',
    variables: { file: null },
  }));
  form.append('map', JSON.stringify({ 0: ['variables.file'] }));
  form.append('0', new File([bytes], name, { type: 'image/png' }));
  const res = await fetch(`${BASE_URL}/graphql`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Apollo-Require-Preflight': 'true' },
    body: form,
  });
  const body = await res.json();
  assert.ok(body.data?.uploadImage?.id, `upload: ${JSON.stringify(body)}`);
  return body.data.uploadImage.id;
}

test('graphql-ws client.iterate: imageUpdated emits the current state, then each change, until READY', async (t) => {
  const token = await login();
  // The same bytes as apollo.test.js's upload: once uploads are deduplicated
  // per user, this is a repeat that must still end READY with its own id.
  const id = await upload(token, makePng(900, 600), 'iterate.png');

  // --- README snippet starts -------------------------------------------------
  const client = createClient({
    url: WS_URL,
    webSocketImpl: WebSocket, // Node only; browsers have one
    connectionParams: { Authorization: `Bearer ${token}` },
  });
  const query = `subscription($id: ID!) {
    imageUpdated(id: $id) { id thumbnails { height width status url } }
  }`;
  const seen = [];
  let image;
  for await (const { data, errors } of client.iterate({ query, variables: { id } })) {
    assert.equal(errors, undefined);
    seen.push(data.imageUpdated);
    image = data.imageUpdated;
    if (image.thumbnails.every((th) => th.status !== 'PENDING')) break; // leaving the loop unsubscribes
  }
  // --- README snippet ends ---------------------------------------------------
  t.after(() => client.dispose());

  t.diagnostic(`events: ${seen.map((e) => e.thumbnails.map((th) => th.status).join('/')).join(', ')}`);
  assert.equal(image.id, id);
  assert.deepEqual(image.thumbnails.map((th) => [th.height, th.status]).sort(), [[200, 'READY'], [400, 'READY']]);
  for (const thumb of image.thumbnails) {
    const got = await download(thumb.url);
    assert.equal(got.status, 200);
    assert.deepEqual(pngSize(got.bytes), { width: thumb.width, height: thumb.height });
  }
});

test('graphql-ws: connection_init with a bad token is refused, and the client does not retry', async () => {
  let connects = 0;
  const client = createClient({
    url: WS_URL,
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: 'Bearer not-a-token' },
    retryAttempts: 3,
    shouldRetry: () => true, // even so: a fatal close code is not retried
    on: { connecting: () => connects++ },
  });
  try {
    const err = await new Promise((resolve, reject) => {
      client.subscribe(
        { query: 'subscription { imageUpdated(id: "00000000-0000-0000-0000-000000000000") { id } }' },
        { next: (v) => reject(new Error(`unexpected event ${JSON.stringify(v)}`)), error: resolve, complete: () => reject(new Error('completed')) },
      );
    });
    // A CloseEvent: async-graphql closes with 1002 and the error's message
    // (the graphql-transport-ws protocol suggests 4403 Forbidden).
    assert.ok([1002, 4401, 4403].includes(err.code), `close code ${err.code} (${err.reason})`);
    assert.match(err.reason, /auth|token|forbidden/i);
    assert.equal(connects, 1);
  } finally {
    await client.dispose();
  }
});
