// Apollo Client + apollo-upload-client + GraphQLWsLink (graphql-ws): the set-up
// of the README's "Front-end clients" section, against the real server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gql } from '@apollo/client/core/index.js';

import { makeApolloClient } from '../lib/client.js';
import { BASE_URL, USERNAME, PASSWORD } from '../lib/env.js';
import { makePng, pngSize } from '../lib/png.js';
import { until, download } from '../lib/wait.js';

const LOGIN = gql`
  mutation Login($username: String!, $password: String!) {
    login(username: $username, password: $password) { token }
  }
`;
const UPLOAD = gql`
  mutation Upload($file: Upload!) {
    uploadImage(file: $file) { id filename contentType width height thumbnails { height status url } }
  }
`;
const IMAGE_UPDATED = gql`
  subscription ImageUpdated($id: ID!) {
    imageUpdated(id: $id) { id thumbnails { height width status url } }
  }
`;

const allReady = (data) => data.imageUpdated.thumbnails.every((t) => t.status === 'READY');

test('Apollo Client: login, upload with apollo-upload-client, imageUpdated until READY, download thumbnails', async (t) => {
  let token = null;
  const { client, wsClient } = makeApolloClient({ baseUrl: BASE_URL, getToken: () => token });
  t.after(async () => {
    client.stop();
    await wsClient.dispose();
  });

  const login = await client.mutate({ mutation: LOGIN, variables: { username: USERNAME, password: PASSWORD } });
  token = login.data.login.token;
  assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a JWT');

  // 900x600: Premium's 200 and 400 px thumbnails are both real reductions.
  const file = new File([makePng(900, 600)], 'gradient.png', { type: 'image/png' });
  const { data } = await client.mutate({ mutation: UPLOAD, variables: { file } });
  const image = data.uploadImage;
  assert.equal(image.filename, 'gradient.png');
  assert.equal(image.contentType, 'image/png');
  assert.deepEqual([image.width, image.height], [900, 600]);
  assert.deepEqual(image.thumbnails.map((th) => th.height).sort((a, b) => a - b), [200, 400]);

  const events = await until(
    client.subscribe({ query: IMAGE_UPDATED, variables: { id: image.id } }),
    allReady,
  );
  t.diagnostic(`imageUpdated events: ${events.length} (${events.map((e) => e.imageUpdated.thumbnails.map((th) => th.status).join('/')).join(', ')})`);
  const final = events.at(-1).imageUpdated;
  assert.equal(final.id, image.id);
  assert.deepEqual(final.thumbnails.map((th) => th.height).sort((a, b) => a - b), [200, 400]);

  for (const thumb of final.thumbnails) {
    assert.ok(thumb.url, `READY ${thumb.height} px thumbnail has a url`);
    const got = await download(thumb.url);
    assert.equal(got.status, 200, `GET ${thumb.url}`);
    assert.match(got.contentType, /^image\/png/);
    const size = pngSize(got.bytes); // PNG in, PNG out
    assert.equal(size.height, thumb.height);
    assert.equal(size.width, thumb.height * 1.5);
    assert.equal(thumb.width, size.width);
  }
});

test('a multipart upload without Apollo-Require-Preflight is refused (CSRF guard)', async (t) => {
  let token = null;
  const { client, wsClient } = makeApolloClient({ baseUrl: BASE_URL, getToken: () => token, requirePreflight: false });
  t.after(async () => {
    client.stop();
    await wsClient.dispose();
  });
  // JSON requests need no such header: logging in works.
  token = (await client.mutate({ mutation: LOGIN, variables: { username: USERNAME, password: PASSWORD } })).data.login.token;

  const file = new File([makePng(30, 20)], 'small.png', { type: 'image/png' });
  const err = await client.mutate({ mutation: UPLOAD, variables: { file } }).then(
    () => assert.fail('upload without the preflight header went through'),
    (e) => e,
  );
  const net = err.networkError;
  if (net?.cause?.code === 'EPIPE' || net?.cause?.code === 'ECONNRESET') {
    // The server answers (400) before it has read the request body and then
    // closes the connection, so a client still sending the body may get a
    // broken pipe instead of the answer. The upload was refused all the
    // same; the server should read (a bounded amount of) the body first.
    t.todo(`refused, but the 400 was lost: ${net.cause.code}`);
    return;
  }
  assert.equal(net?.statusCode, 400, String(err));
  const errors = net.result?.errors ?? [];
  assert.equal(errors[0]?.extensions?.code, 'BAD_USER_INPUT');
  assert.match(errors[0]?.message, /Apollo-Require-Preflight/);
});
