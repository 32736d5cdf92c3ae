// One image's page: every thumbnail of your plan, the original when the plan
// grants it, expiring links (create, copy, revoke), delete.
import { gql, IMAGE_FIELDS } from '../api.js';
import { describe } from '../errors.js';
import { placeholderUrl } from '../blurhash.js';
import { html, Note, formatBytes, formatDate, relative, useEffect, useRef, useState, useTitle, useFocusHeading, useCallback } from '../ui.js';
import { Expiry } from './card.js';
import { refreshImage, useLiveImages } from './live.js';
import { flashOnGallery, forgetImage } from './gallery.js';

/** @typedef {import('../api.js').Image} Image */
/** @typedef {{ id: string, url: string, expiresAt: string, createdAt: string, expired: boolean }} Link */

const IMAGE = `query Image($id: ID!) { image(id: $id) { ${IMAGE_FIELDS} } }`;
const LINKS = `query Links($id: ID!) { expiringLinks(imageId: $id, first: 50) { nodes { id url expiresAt createdAt expired } } }`;
const CREATE_LINK = `mutation CreateLink($id: ID!, $expiresIn: Int!) {
  createExpiringLink(imageId: $id, expiresIn: $expiresIn) { id url expiresAt createdAt expired } }`;
const DELETE_LINK = `mutation DeleteLink($id: ID!) { deleteExpiringLink(id: $id) }`;
const DELETE_IMAGE = `mutation DeleteImage($id: ID!) { deleteImage(id: $id) }`;

/** @param {{ id: string, user: import('../session.js').User }} props */
export function ImagePage({ id, user }) {
  const [image, setImage] = useState(/** @type {Image | null | undefined} */ (undefined));
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const heading = useFocusHeading([id, image === undefined]);
  useTitle(image ? image.filename : 'Image');

  useEffect(() => {
    setImage(undefined);
    setError(null);
    gql(IMAGE, { id }).then((d) => setImage(d.image), (err) => setError(describe(err)));
  }, [id]);

  const live = image ? [image] : [];
  const update = useCallback((/** @type {Image} */ i) => setImage(i), []);
  const gone = useCallback(() => setImage(null), []);
  useLiveImages(live, update, gone);
  const broken = useCallback(() => refreshImage(id, update, gone), [id]);

  const back = html`<p><a href="#/">← Back to the gallery</a></p>`;
  if (error) return html`<main id="main" class="page">${back}<h1 tabindex="-1" ref=${heading}>Image</h1><${Note} kind="error">${error}<//></main>`;
  if (image === undefined) return html`<main id="main" class="page">${back}<h1 tabindex="-1" ref=${heading}>Image</h1><p role="status">Loading…</p></main>`;
  if (image === null) {
    return html`<main id="main" class="page">${back}<h1 tabindex="-1" ref=${heading}>Image not found</h1>
      <p>This image does not exist, is not yours, or has expired.</p></main>`;
  }
  return html`<main id="main" class="page image-page">
    ${back}
    <h1 tabindex="-1" ref=${heading}>${image.filename}</h1>
    <p class="image-meta">${image.width} × ${image.height} px · ${formatBytes(image.byteSize)} · ${image.contentType} ·
      uploaded <time datetime=${image.createdAt}>${formatDate(image.createdAt)}</time>
      ${image.expiresAt && html` · <${Expiry} at=${image.expiresAt} />`}</p>
    <${Thumbnails} image=${image} onBroken=${broken} />
    <${Original} image=${image} onBroken=${broken} />
    <${Links} image=${image} allowed=${user.plan?.expiringLinks ?? false} />
    <${DeleteImage} image=${image} />
  </main>`;
}

/** @param {{ image: Image, onBroken: () => void }} props */
function Thumbnails({ image, onBroken }) {
  const placeholder = placeholderUrl(image.blurhash, image.width, image.height);
  return html`<section aria-labelledby="thumbs-heading">
    <h2 id="thumbs-heading">Thumbnails</h2>
    ${image.thumbnails.length === 0 && html`<p>Your plan includes no thumbnails.</p>`}
    <div class="thumbs">
      ${image.thumbnails.map((t) => html`<figure class="thumb-figure" data-height=${t.height} data-status=${t.status}>
        ${t.status === 'READY' && t.url
          ? html`<img src=${t.url} alt=${`${image.filename}, ${t.height} px thumbnail`} width=${t.width ?? undefined} height=${t.height} onError=${onBroken} />`
          : placeholder
            ? html`<img class="placeholder" src=${placeholder} alt="" width=${Math.round((t.height * image.width) / Math.max(image.height, 1))} height=${t.height} />`
            : html`<span class="frame-text">${t.status === 'FAILED' ? 'Failed' : 'Being made…'}</span>`}
        <figcaption>${t.height} px${t.width ? ` (${t.width} × ${t.height})` : ''} — ${{ READY: 'ready', PENDING: 'being made', FAILED: 'could not be made' }[t.status]}
          ${t.url && html` · <a href=${t.url} target="_blank" rel="noopener noreferrer">open<span class="visually-hidden"> the ${t.height} px thumbnail</span></a>`}</figcaption>
      </figure>`)}
    </div>
  </section>`;
}

/** @param {{ image: Image, onBroken: () => void }} props */
function Original({ image, onBroken }) {
  return html`<section aria-labelledby="original-heading">
    <h2 id="original-heading">Original</h2>
    ${image.originalUrl
      ? html`<p><a href=${image.originalUrl} target="_blank" rel="noopener noreferrer">Open the original</a> (${image.width} × ${image.height} px)</p>
        <img class="original" src=${image.originalUrl} alt=${`${image.filename}, original`} width=${image.width} height=${image.height} onError=${onBroken} />`
      : html`<p>Your plan does not include the original.</p>`}
  </section>`;
}

/** @param {{ image: Image, allowed: boolean }} props */
function Links({ image, allowed }) {
  const [links, setLinks] = useState(/** @type {Link[]} */ ([]));
  const [seconds, setSeconds] = useState('3600');
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const [status, setStatus] = useState(/** @type {string | null} */ (null));
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!allowed) return;
    gql(LINKS, { id: image.id }).then((d) => setLinks(d.expiringLinks.nodes), (err) => setError(describe(err)));
  }, [image.id, allowed]);

  if (!allowed) {
    return html`<section aria-labelledby="links-heading"><h2 id="links-heading">Expiring links</h2>
      <p>Your plan does not include expiring links.</p></section>`;
  }

  /** @param {SubmitEvent} e */
  async function create(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setStatus(null);
    try {
      const { createExpiringLink: link } = await gql(CREATE_LINK, { id: image.id, expiresIn: Number(seconds) });
      setLinks((old) => [link, ...old]);
      setStatus(`Link created; it works until ${formatDate(link.expiresAt)}.`);
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  }

  /** @param {Link} link */
  async function copy(link) {
    setError(null);
    try {
      await navigator.clipboard.writeText(link.url);
      setStatus('Link copied to the clipboard.');
    } catch {
      setError('The browser did not allow copying. Select the link and copy it by hand.');
    }
  }

  /** @param {Link} link */
  async function revoke(link) {
    setError(null);
    setStatus(null);
    try {
      await gql(DELETE_LINK, { id: link.id });
      setLinks((old) => old.filter((l) => l.id !== link.id));
      setStatus('Link revoked: it no longer works.');
    } catch (err) {
      setError(describe(err));
    }
  }

  return html`<section aria-labelledby="links-heading">
    <h2 id="links-heading">Expiring links</h2>
    <p>Anyone with such a link can open the original, without logging in, until it expires or you revoke it.</p>
    <form class="inline-form" onSubmit=${create}>
      <label for="link-seconds">Lifetime in seconds (300 to 30000)</label>
      <input id="link-seconds" type="number" min="300" max="30000" step="1" required value=${seconds}
        onInput=${(/** @type {any} */ e) => setSeconds(e.currentTarget.value)} />
      <button type="submit" disabled=${busy}>Create link</button>
    </form>
    <${Note} kind="error">${error}<//>
    <${Note} kind="ok">${status}<//>
    ${links.length > 0 && html`<ul class="links">
      ${links.map((link, n) => html`<li class="link" data-link-id=${link.id}>
        <label class="visually-hidden" for=${`link-url-${n}`}>Link ${n + 1}</label>
        <input id=${`link-url-${n}`} class="link-url" readonly value=${link.url} onFocus=${(/** @type {any} */ e) => e.currentTarget.select()} />
        <span class="link-expiry">${link.expired ? 'expired' : html`expires <time datetime=${link.expiresAt} title=${formatDate(link.expiresAt)}>${relative(link.expiresAt)}</time>`}</span>
        <button type="button" class="secondary" onClick=${() => copy(link)} aria-label=${`Copy link ${n + 1}`}>Copy</button>
        <button type="button" class="danger" onClick=${() => revoke(link)} aria-label=${`Revoke link ${n + 1}`}>Revoke</button>
      </li>`)}
    </ul>`}
  </section>`;
}

/** @param {{ image: Image }} props */
function DeleteImage({ image }) {
  const [asking, setAsking] = useState(false);
  const [error, setError] = useState(/** @type {string | null} */ (null));
  // Keyboard focus follows the question (on the safe answer) and comes back.
  const keep = useRef(/** @type {HTMLButtonElement | null} */ (null));
  const ask = useRef(/** @type {HTMLButtonElement | null} */ (null));
  const asked = useRef(false);
  useEffect(() => {
    if (asking) keep.current?.focus();
    else if (asked.current) ask.current?.focus();
    asked.current = asking || asked.current;
  }, [asking]);
  async function remove() {
    setError(null);
    try {
      await gql(DELETE_IMAGE, { id: image.id });
      forgetImage(image.id);
      flashOnGallery(`Deleted ${image.filename}.`);
      location.hash = '#/';
    } catch (err) {
      setError(describe(err));
    }
  }
  return html`<section aria-labelledby="delete-heading">
    <h2 id="delete-heading">Delete</h2>
    ${asking
      ? html`<div class="confirm" role="group" aria-labelledby="delete-question">
          <p id="delete-question">Delete <strong>${image.filename}</strong> for good? Its thumbnails and expiring links go with it.</p>
          <button type="button" class="danger" onClick=${remove}>Yes, delete it</button>
          <button type="button" class="secondary" ref=${keep} onClick=${() => setAsking(false)}>Keep it</button>
        </div>`
      : html`<button type="button" class="danger" ref=${ask} onClick=${() => setAsking(true)}>Delete this image…</button>`}
    <${Note} kind="error">${error}<//>
  </section>`;
}
