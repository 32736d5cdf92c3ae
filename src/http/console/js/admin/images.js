// Any user's images at "#/images/<userId>" (userImages), newest first, with
// thumbnails, a page at a time; delete. Without a user in the route, a list
// to pick one from. On a server without `userImages` it says so.
import { gql, IMAGE_FIELDS } from '../api.js';
import { describe, missingApi } from '../errors.js';
import { html, Note, Confirm, formatBytes, formatDate, useEffect, useState, useTitle, useFocusHeading } from '../ui.js';
import { ImageCard } from '../user/card.js';

/** @typedef {import('../api.js').Image} Image */

const PAGE = 24;
const IMAGES = `query UserImages($userId: ID!, $first: Int!, $after: String) {
  userImages(userId: $userId, first: $first, after: $after) { pageInfo { hasNextPage endCursor } nodes { ${IMAGE_FIELDS} } } }`;
const USERS = `query Pick($after: String) { users(first: 100, after: $after) { pageInfo { hasNextPage endCursor } nodes { id username } } }`;
const DELETE = `mutation DeleteImage($id: ID!) { deleteImage(id: $id) }`;

/** @param {{ userId: string | undefined }} props */
export function ImagesPage({ userId }) {
  return userId ? html`<${UserImages} key=${userId} userId=${userId} />` : html`<${PickUser} />`;
}

function PickUser() {
  useTitle('Images');
  const heading = useFocusHeading();
  const [users, setUsers] = useState(/** @type {{ id: string, username: string }[]} */ ([]));
  const [next, setNext] = useState(/** @type {string | null} */ (null));
  const [error, setError] = useState(/** @type {string | null} */ (null));
  /** @param {string | null} after */
  async function load(after) {
    try {
      const d = await gql(USERS, { after });
      setUsers((old) => [...(after ? old : []), ...d.users.nodes]);
      setNext(d.users.pageInfo.hasNextPage ? d.users.pageInfo.endCursor : null);
    } catch (err) {
      setError(describe(err));
    }
  }
  useEffect(() => {
    load(null);
  }, []);
  return html`<main id="main" class="page">
    <h1 tabindex="-1" ref=${heading}>Images</h1>
    <p>Whose images? (Newest users first.)</p>
    <${Note} kind="error">${error}<//>
    <ul class="chips">${users.map((u) => html`<li><a href=${`#/images/${encodeURIComponent(u.id)}`}>${u.username}</a></li>`)}</ul>
    ${next && html`<button type="button" class="secondary" onClick=${() => load(next)}>More users</button>`}
  </main>`;
}

/** @param {{ userId: string }} props */
function UserImages({ userId }) {
  const heading = useFocusHeading();
  const [name, setName] = useState(/** @type {string | null} */ (null));
  const [images, setImages] = useState(/** @type {Image[]} */ ([]));
  const [cursor, setCursor] = useState(/** @type {string | null} */ (null));
  const [more, setMore] = useState(false);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const [unsupported, setUnsupported] = useState(false);
  const [status, setStatus] = useState(/** @type {string | null} */ (null));
  const [asking, setAsking] = useState(/** @type {Image | null} */ (null));
  useTitle(name ? `Images of ${name}` : 'Images');

  /** @param {string | null} after */
  async function load(after) {
    setLoading(true);
    try {
      const { userImages } = await gql(IMAGES, { userId, first: PAGE, after });
      setImages((old) => [...(after ? old : []), ...userImages.nodes]);
      setCursor(userImages.pageInfo.endCursor);
      setMore(userImages.pageInfo.hasNextPage);
    } catch (err) {
      if (missingApi(err)) setUnsupported(true);
      else setError(describe(err));
    } finally {
      setLoading(false);
    }
  }
  useEffect(() => {
    load(null);
    // The username, for the heading (the API has no user(id)).
    (async () => {
      let after = null;
      for (;;) {
        const d = await gql(USERS, { after });
        const u = d.users.nodes.find((/** @type {{ id: string }} */ x) => x.id === userId);
        if (u) return setName(u.username);
        if (!d.users.pageInfo.hasNextPage) return setName('(unknown user)');
        after = d.users.pageInfo.endCursor;
      }
    })().catch(() => {});
  }, [userId]);

  /** @param {Image} image */
  async function remove(image) {
    setError(null);
    try {
      await gql(DELETE, { id: image.id });
      setAsking(null);
      setImages((old) => old.filter((i) => i.id !== image.id));
      setStatus(`Deleted ${image.filename}.`);
    } catch (err) {
      setAsking(null);
      setError(`${image.filename} was not deleted. ${describe(err)}`);
    }
  }

  return html`<main id="main" class="page">
    <p><a href=${`#/users/${encodeURIComponent(userId)}`}>← ${name ?? 'The user'}'s page</a></p>
    <h1 tabindex="-1" ref=${heading}>Images of ${name ?? '…'}</h1>
    <p class="hint">Newest first, without expired ones, with the thumbnails their plan grants.</p>
    ${unsupported && html`<${Note} kind="info">This server does not offer other users' images yet (it needs <code>userImages</code>).<//>`}
    <${Note} kind="ok">${status}<//>
    <${Note} kind="error">${error}<//>
    ${!loading && !unsupported && images.length === 0 && !error && html`<p>No images.</p>`}
    <ul class="grid admin-grid" aria-busy=${loading ? 'true' : 'false'}>
      ${images.map((image) => html`<${AdminCard} key=${image.id} image=${image} asking=${asking?.id === image.id}
        onAsk=${() => { setStatus(null); setAsking(image); }} onNo=${() => setAsking(null)} onYes=${() => remove(image)} />`)}
    </ul>
    ${loading && html`<p role="status">Loading images…</p>`}
    ${more && !loading && html`<button type="button" class="secondary" onClick=${() => load(cursor)}>Show more images</button>`}
  </main>`;
}

/** @param {{ image: Image, asking: boolean, onAsk: () => void, onYes: () => void, onNo: () => void }} props */
function AdminCard({ image, asking, onAsk, onYes, onNo }) {
  const href = image.originalUrl ?? image.thumbnails.find((t) => t.url)?.url ?? '#';
  return html`<${ImageCard} image=${image} href=${href}>
    <span class="card-meta">${formatBytes(image.byteSize)} · <time datetime=${image.createdAt}>${formatDate(image.createdAt)}</time></span>
    <span class="card-actions">${asking
      ? html`<${Confirm} question=${`Delete ${image.filename}? Its thumbnails and links go with it.`} yes="Yes, delete" no="Keep"
          onYes=${onYes} onNo=${onNo} />`
      : html`<button type="button" class="danger" aria-label=${`Delete ${image.filename}`} onClick=${onAsk}>Delete</button>`}</span>
  <//>`;
}
