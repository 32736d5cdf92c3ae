// The one GraphQL client of the console: every page talks to the server
// through this module, and only to `/graphql` and `/graphql/ws`.
//
// - `gql(query, variables)`: queries and mutations as JSON POSTs.
// - `upload(file, opts)`: one file with per-file progress; a GraphQL
//   multipart request (XMLHttpRequest, for its upload progress events), or a
//   direct upload to storage (createUploadUrl, PUT, completeUpload) for files
//   over the server's MAX_UPLOAD_BYTES.
// - `subscribe(query, variables, handlers)`: graphql-transport-ws over one
//   shared socket, authenticated in `connection_init`, re-subscribed after a
//   reconnect.
//
// A refused token (UNAUTHENTICATED, or the socket closed for it) signs the
// page out here, once, for every page.
import { ApiError } from './errors.js';
import { signOut, token, onSessionChange } from './session.js';

export { ApiError };

const ENDPOINT = '/graphql';
const SIGNED_OUT = 'You have been signed out: the server no longer accepts your session. Please log in again.';

/** The server's limits, from the page's meta tags (filled in by the server). */
export const limits = {
  maxUploadBytes: metaNumber('image-vault:max-upload-bytes', 50 << 20),
  maxDirectUploadBytes: metaNumber('image-vault:max-direct-upload-bytes', 0),
};

/** @param {string} name @param {number} fallback */
function metaNumber(name, fallback) {
  const el = document.querySelector(`meta[name="${name}"]`);
  const n = Number(el?.getAttribute('content'));
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

/** @returns {Record<string, string>} */
function authHeaders() {
  const t = token();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

/**
 * The first error of a GraphQL response as an ApiError, or null.
 * @param {any} body
 */
function firstError(body) {
  const e = Array.isArray(body?.errors) ? body.errors[0] : null;
  if (!e) return null;
  return new ApiError(String(e.extensions?.code ?? 'BAD_RESPONSE'), String(e.message ?? ''));
}

/** Signs out when the server refused the token we sent. @param {ApiError} err @param {boolean} sentToken */
function handleRefusal(err, sentToken) {
  if (err.code === 'UNAUTHENTICATED' && sentToken) signOut(SIGNED_OUT);
}

/**
 * Runs a query or mutation and returns its `data`; throws an ApiError.
 * @param {string} query
 * @param {Record<string, unknown>} [variables]
 * @returns {Promise<any>}
 */
export async function gql(query, variables = {}) {
  const sentToken = token() !== null;
  let res;
  try {
    res = await fetch(ENDPOINT, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...authHeaders() },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError('NETWORK', 'network error');
  }
  let body;
  try {
    body = await res.json();
  } catch {
    throw new ApiError(res.ok ? 'BAD_RESPONSE' : `HTTP_${res.status}`, res.statusText);
  }
  const err = firstError(body);
  if (err) {
    handleRefusal(err, sentToken);
    throw err;
  }
  if (!res.ok || !body?.data) throw new ApiError(`HTTP_${res.status}`, res.statusText);
  return body.data;
}

export const IMAGE_FIELDS = `id filename contentType width height byteSize createdAt expiresAt blurhash originalUrl
  thumbnails { height width status url }`;

/**
 * @typedef {{ height: number, width: number | null, status: 'PENDING' | 'READY' | 'FAILED', url: string | null }} Thumbnail
 * @typedef {{ id: string, filename: string, contentType: string, width: number, height: number,
 *   byteSize: number, createdAt: string, expiresAt: string | null, blurhash: string | null,
 *   originalUrl: string | null, thumbnails: Thumbnail[] }} Image
 * @typedef {{ onProgress?: (sent: number, total: number) => void, expiresIn?: number | null,
 *   signal?: AbortSignal }} UploadOptions
 */

/**
 * Sends `body` with XMLHttpRequest (fetch has no upload progress) and
 * resolves with the response text and status.
 * @param {string} method @param {string} url @param {Record<string, string>} headers
 * @param {XMLHttpRequestBodyInit} body @param {UploadOptions} opts
 * @returns {Promise<{ status: number, text: string }>}
 */
function send(method, url, headers, body, opts) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) opts.onProgress?.(e.loaded, e.total);
    };
    xhr.onload = () => resolve({ status: xhr.status, text: xhr.responseText });
    xhr.onerror = () => reject(new ApiError('NETWORK', 'network error'));
    xhr.onabort = () => reject(new ApiError('ABORTED', 'cancelled'));
    opts.signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(body);
  });
}

/** @param {{ status: number, text: string }} r @param {boolean} sentToken @returns {any} */
function graphqlData(r, sentToken) {
  let body;
  try {
    body = JSON.parse(r.text);
  } catch {
    throw new ApiError(r.status === 413 ? 'PAYLOAD_TOO_LARGE' : `HTTP_${r.status}`, r.text.slice(0, 200));
  }
  const err = firstError(body);
  if (err) {
    handleRefusal(err, sentToken);
    throw err;
  }
  if (!body?.data) throw new ApiError(`HTTP_${r.status}`, 'no data');
  return body.data;
}

/** Room for the multipart envelope around the file within MAX_UPLOAD_BYTES. */
const MULTIPART_OVERHEAD = 16 << 10;

/**
 * Uploads one file and resolves with the new image.
 * @param {File} file @param {UploadOptions} [opts]
 * @returns {Promise<Image>}
 */
export function upload(file, opts = {}) {
  if (file.size + MULTIPART_OVERHEAD > limits.maxUploadBytes) return directUpload(file, opts);
  return multipartUpload(file, opts);
}

/** @param {File} file @param {UploadOptions} opts @returns {Promise<Image>} */
async function multipartUpload(file, opts) {
  const sentToken = token() !== null;
  const form = new FormData();
  form.append('operations', JSON.stringify({
    query: `mutation Upload($file: Upload!, $expiresIn: Int) { uploadImage(file: $file, expiresIn: $expiresIn) { ${IMAGE_FIELDS} } }`,
    variables: { file: null, expiresIn: opts.expiresIn ?? null },
  }));
  form.append('map', JSON.stringify({ 0: ['variables.file'] }));
  form.append('0', file, file.name);
  // The preflight header is the server's CSRF guard for multipart requests.
  const r = await send('POST', ENDPOINT, { ...authHeaders(), 'Apollo-Require-Preflight': 'true' }, form, opts);
  return graphqlData(r, sentToken).uploadImage;
}

/** @param {File} file @param {UploadOptions} opts @returns {Promise<Image>} */
async function directUpload(file, opts) {
  const { createUploadUrl: target } = await gql(
    `mutation Target($filename: String!, $byteSize: Int!, $contentType: String!) {
      createUploadUrl(filename: $filename, byteSize: $byteSize, contentType: $contentType) {
        id url method headers { name value } } }`,
    { filename: file.name, byteSize: file.size, contentType: file.type || 'application/octet-stream' },
  );
  /** @type {Record<string, string>} */
  const headers = {};
  for (const h of target.headers) headers[h.name] = h.value;
  const r = await send(target.method, target.url, headers, file, opts);
  if (r.status < 200 || r.status >= 300) {
    throw new ApiError('STORAGE_REFUSED', `storage refused the file (HTTP ${r.status})`);
  }
  const { completeUpload } = await gql(
    `mutation Complete($id: ID!, $expiresIn: Int) { completeUpload(id: $id, expiresIn: $expiresIn) { ${IMAGE_FIELDS} } }`,
    { id: target.id, expiresIn: opts.expiresIn ?? null },
  );
  return completeUpload;
}

// --- Subscriptions: graphql-transport-ws ------------------------------------

/**
 * @typedef {{ next: (data: any) => void, error?: (err: ApiError) => void, complete?: () => void }} Handlers
 * @typedef {{ query: string, variables: Record<string, unknown>, handlers: Handlers }} Sub
 */

/** Close codes that mean "this token is not accepted". */
const AUTH_CLOSE_CODES = new Set([4401, 4403]);

/** @type {Map<string, Sub>} */
const subs = new Map();
/** @type {WebSocket | null} */
let socket = null;
let acked = false;
let nextId = 1;
let retries = 0;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let retryTimer;

function socketUrl() {
  const url = new URL('/graphql/ws', location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

/** @param {string} id @param {Sub} sub */
function sendSubscribe(id, sub) {
  socket?.send(JSON.stringify({ id, type: 'subscribe', payload: { query: sub.query, variables: sub.variables } }));
}

function connect() {
  if (socket || subs.size === 0 || !token()) return;
  const ws = new WebSocket(socketUrl(), 'graphql-transport-ws');
  socket = ws;
  acked = false;
  ws.onopen = () => ws.send(JSON.stringify({ type: 'connection_init', payload: authHeaders() }));
  ws.onmessage = (event) => {
    let msg;
    try {
      msg = JSON.parse(String(event.data));
    } catch {
      return;
    }
    const sub = msg.id ? subs.get(msg.id) : undefined;
    switch (msg.type) {
      case 'connection_ack':
        acked = true;
        retries = 0;
        for (const [id, s] of subs) sendSubscribe(id, s);
        break;
      case 'ping':
        ws.send(JSON.stringify({ type: 'pong' }));
        break;
      case 'next':
        if (!sub) break;
        if (msg.payload?.errors?.length) {
          const err = firstError(msg.payload) ?? new ApiError('BAD_RESPONSE', 'error');
          handleRefusal(err, true);
          sub.handlers.error?.(err);
        } else {
          sub.handlers.next(msg.payload?.data);
        }
        break;
      case 'error':
        if (!sub) break;
        subs.delete(msg.id);
        {
          const err = firstError({ errors: msg.payload }) ?? new ApiError('BAD_RESPONSE', 'error');
          handleRefusal(err, true);
          sub.handlers.error?.(err);
        }
        break;
      case 'complete':
        if (!sub) break;
        subs.delete(msg.id);
        sub.handlers.complete?.();
        break;
      default:
        break;
    }
  };
  ws.onclose = (event) => {
    if (socket !== ws) return;
    socket = null;
    // Refused in connection_init (async-graphql closes with 1002 and its
    // message before the ack), or closed later because the token no longer
    // counts (4401/4403): the session is over.
    if (AUTH_CLOSE_CODES.has(event.code) || (!acked && event.code === 1002)) {
      signOut(SIGNED_OUT);
      return;
    }
    if (subs.size > 0 && token()) {
      const delay = Math.min(500 * 2 ** retries, 10_000);
      retries += 1;
      retryTimer = setTimeout(connect, delay);
    }
  };
}

/**
 * Starts a subscription; returns the function that stops it.
 * @param {string} query @param {Record<string, unknown>} variables @param {Handlers} handlers
 * @returns {() => void}
 */
export function subscribe(query, variables, handlers) {
  const id = String(nextId++);
  const sub = { query, variables, handlers };
  subs.set(id, sub);
  if (socket && acked) sendSubscribe(id, sub);
  else connect();
  return () => {
    if (!subs.delete(id)) return;
    if (socket && acked && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ id, type: 'complete' }));
    }
    if (subs.size === 0) closeSocket();
  };
}

function closeSocket() {
  clearTimeout(retryTimer);
  const ws = socket;
  socket = null;
  acked = false;
  ws?.close(1000, 'done');
}

// Signing out (or in as someone else) ends the socket and its subscriptions.
let lastToken = token();
onSessionChange(() => {
  if (token() === lastToken) return;
  lastToken = token();
  closeSocket();
  subs.clear();
});
