// The gallery page: the upload panel and the grid of your images, newest
// first, updated live as thumbnails are made.
import { gql, IMAGE_FIELDS } from '../api.js';
import { describe } from '../errors.js';
import { onSessionChange } from '../session.js';
import { html, Note, useEffect, useState, useTitle, useCallback, useFocusHeading } from '../ui.js';
import { ImageCard } from './card.js';
import { refreshImage, useLiveImages } from './live.js';
import { UploadPanel } from './upload.js';
import { PLAN_FIELDS } from '../account.js';
import { USAGE_FIELDS, UsageSummary } from '../usage.js';

/** @typedef {import('../api.js').Image} Image */

const PAGE = 24;
const IMAGES = `query Images($first: Int!, $after: String) {
  images(first: $first, after: $after) { pageInfo { hasNextPage endCursor } nodes { ${IMAGE_FIELDS} } }
}`;

const USAGE = `query Usage { me { id plan { ${PLAN_FIELDS} } ${USAGE_FIELDS} } }`;

/** Shared across visits of the page in this tab (opening an image and coming back keeps the list). */
let cache = /** @type {{ images: Image[], cursor: string | null, more: boolean } | null} */ (null);
/** A one-off message for the gallery (after a delete on the image page). */
let flash = /** @type {string | null} */ (null);

// Someone else signing in in this tab must not see the last one's list.
onSessionChange(() => {
  cache = null;
});

/** @param {string} message */
export function flashOnGallery(message) {
  flash = message;
}

/** Drops an image from the cached list (deleted elsewhere). @param {string} id */
export function forgetImage(id) {
  if (cache) cache = { ...cache, images: cache.images.filter((i) => i.id !== id) };
}

/** @param {{ user: import('../session.js').User }} props */
export function Gallery({ user }) {
  useTitle('Your images');
  // A new page: the keyboard focus (and a screen reader) starts at its heading.
  const heading = useFocusHeading();
  const [images, setImages] = useState(/** @type {Image[]} */ (cache?.images ?? []));
  const [cursor, setCursor] = useState(cache?.cursor ?? null);
  const [more, setMore] = useState(cache?.more ?? false);
  const [loading, setLoading] = useState(cache === null);
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const [message] = useState(() => {
    const m = flash;
    flash = null;
    return m;
  });

  useEffect(() => {
    cache = { images, cursor, more };
  }, [images, cursor, more]);

  /** @param {string | null} after */
  async function load(after) {
    setLoading(true);
    setError(null);
    try {
      const { images: page } = await gql(IMAGES, { first: PAGE, after });
      setImages((old) => {
        const base = after ? old : [];
        const seen = new Set(base.map((i) => i.id));
        return [...base, ...page.nodes.filter((/** @type {Image} */ i) => !seen.has(i.id))];
      });
      setCursor(page.pageInfo.endCursor);
      setMore(page.pageInfo.hasNextPage);
    } catch (err) {
      setError(describe(err));
    } finally {
      setLoading(false);
    }
  }

  useEffect(() => {
    load(null);
  }, [user.id]);

  // Usage against the plan's quotas, asked again after uploads (at most once a second).
  const [usage, setUsage] = useState(/** @type {any} */ (null));
  const [usageTick, setUsageTick] = useState(0);
  useEffect(() => {
    const timer = setTimeout(() => gql(USAGE).then((d) => setUsage(d.me), () => {}), usageTick ? 1000 : 0);
    return () => clearTimeout(timer);
  }, [user.id, usageTick]);

  const update = useCallback((/** @type {Image} */ image) => {
    setImages((old) => old.map((i) => (i.id === image.id ? image : i)));
  }, []);
  const gone = useCallback((/** @type {string} */ id) => {
    setImages((old) => old.filter((i) => i.id !== id));
  }, []);
  useLiveImages(images, update, gone);
  const broken = useCallback((/** @type {string} */ id) => refreshImage(id, update, gone), []);

  // Expired images vanish from every query; drop them from the grid too,
  // and keep the "expires in" words current.
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 30_000);
    return () => clearInterval(timer);
  }, []);
  const shown = images.filter((i) => !i.expiresAt || Date.parse(i.expiresAt) > now);

  const uploaded = useCallback((/** @type {Image} */ image) => {
    setImages((old) => [image, ...old.filter((i) => i.id !== image.id)]);
    setUsageTick((n) => n + 1);
  }, []);

  return html`<main id="main" class="page">
    <h1 tabindex="-1" ref=${heading}>Your images</h1>
    <${Note} kind="ok">${message}<//>
    <p class="plan-line">Plan: <strong>${user.plan?.name ?? 'none'}</strong>${user.plan && html` — thumbnails ${user.plan.thumbnailHeights.map((h) => `${h} px`).join(', ') || 'none'}${user.plan.originalLink ? ', originals' : ''}${user.plan.expiringLinks ? ', expiring links' : ''}`}</p>
    ${usage && html`<${UsageSummary} usage=${usage.usage} plan=${usage.plan} label="Your usage against your plan" />`}
    <${UploadPanel} onUploaded=${uploaded} />
    <section aria-labelledby="gallery-heading">
      <h2 id="gallery-heading">Gallery</h2>
      <${Note} kind="error">${error}<//>
      ${!loading && shown.length === 0 && !error && html`<p>No images yet. Upload some above.</p>`}
      <ul class="grid" aria-busy=${loading ? 'true' : 'false'}>
        ${shown.map((image) => html`<${ImageCard} key=${image.id} image=${image} href=${`#/image/${encodeURIComponent(image.id)}`} onBroken=${broken} />`)}
      </ul>
      ${loading && html`<p role="status">Loading images…</p>`}
      ${more && !loading && html`<button type="button" class="secondary" onClick=${() => load(cursor)}>Show more images</button>`}
    </section>
  </main>`;
}
