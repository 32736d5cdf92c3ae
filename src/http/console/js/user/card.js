// One image in a grid: the blurhash placeholder until a thumbnail has loaded,
// then the thumbnail. `data-state` says which (processing, placeholder,
// ready, failed), for people styling it and for the tests.
import { placeholderUrl } from '../blurhash.js';
import { html, relative, formatDate, useState } from '../ui.js';

/** @typedef {import('../api.js').Image} Image */

/** The READY thumbnail to show in a grid: the one nearest 200 px high. @param {Image} image */
export function gridThumbnail(image) {
  const ready = image.thumbnails.filter((t) => t.status === 'READY' && t.url);
  ready.sort((a, b) => Math.abs(a.height - 200) - Math.abs(b.height - 200));
  return ready[0] ?? null;
}

/** "Expires in 3 hours", with the date for those who hover or read it out. @param {{ at: string | null }} props */
export function Expiry({ at }) {
  if (!at) return null;
  return html`<span class="expiry">Expires <time datetime=${at} title=${formatDate(at)}>${relative(at)}</time></span>`;
}

/**
 * `children` go below the name (the administrator's delete button).
 * @param {{ image: Image, href: string, onBroken?: (id: string) => void, children?: unknown }} props
 */
export function ImageCard({ image, href, onBroken, children }) {
  const [loadedUrl, setLoadedUrl] = useState(/** @type {string | null} */ (null));
  const thumb = gridThumbnail(image);
  const placeholder = placeholderUrl(image.blurhash, image.width, image.height);
  const failed = !thumb && image.thumbnails.length > 0 && image.thumbnails.every((t) => t.status === 'FAILED');
  const ready = thumb !== null && loadedUrl === thumb.url;
  const state = ready ? 'ready' : failed ? 'failed' : placeholder ? 'placeholder' : 'processing';
  return html`<li class="card" data-state=${state} data-image-id=${image.id}>
    <a href=${href}>
      <span class="frame">
        ${placeholder && !ready && html`<img class="placeholder" src=${placeholder} alt="" />`}
        ${thumb && html`<img class=${ready ? 'thumb shown' : 'thumb'} src=${thumb.url} alt=""
          width=${thumb.width ?? undefined} height=${thumb.height}
          onLoad=${() => setLoadedUrl(thumb.url)} onError=${() => onBroken?.(image.id)} />`}
        ${!thumb && !placeholder && !failed && html`<span class="frame-text">Making thumbnails…</span>`}
        ${failed && html`<span class="frame-text">No thumbnail could be made</span>`}
      </span>
      <span class="card-name">${image.filename}</span>
    </a>
    <span class="card-meta">${image.width} × ${image.height}${image.expiresAt ? ' · ' : ''}<${Expiry} at=${image.expiresAt} /></span>
    ${children}
  </li>`;
}
