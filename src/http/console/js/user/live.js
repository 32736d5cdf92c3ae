// Live images: subscribes to `imageUpdated` for every image whose thumbnails
// are still being made, and hands each new version to `onUpdate` (no reload).
import { IMAGE_FIELDS, gql, subscribe } from '../api.js';
import { useEffect, useRef } from '../ui.js';

const IMAGE_UPDATED = `subscription ImageUpdated($id: ID!) { imageUpdated(id: $id) { ${IMAGE_FIELDS} } }`;

/** @typedef {import('../api.js').Image} Image */

/** Whether the workers are done with `image` (every thumbnail READY or FAILED). @param {Image} image */
export function settled(image) {
  return image.thumbnails.every((t) => t.status !== 'PENDING');
}

/**
 * @param {Image[]} images
 * @param {(image: Image) => void} onUpdate  a newer version of an image
 * @param {(id: string) => void} onGone  the image was deleted or expired
 */
export function useLiveImages(images, onUpdate, onGone) {
  const subs = useRef(/** @type {Map<string, () => void>} */ (new Map()));
  const handlers = useRef({ onUpdate, onGone });
  handlers.current = { onUpdate, onGone };
  const pending = images.filter((i) => !settled(i)).map((i) => i.id);
  const key = pending.join(',');
  useEffect(() => {
    const want = new Set(pending);
    for (const [id, stop] of subs.current) {
      if (!want.has(id)) {
        stop();
        subs.current.delete(id);
      }
    }
    for (const id of want) {
      if (subs.current.has(id)) continue;
      const stop = subscribe(IMAGE_UPDATED, { id }, {
        next: (data) => data?.imageUpdated && handlers.current.onUpdate(data.imageUpdated),
        complete: () => {
          subs.current.delete(id);
          handlers.current.onGone(id);
        },
        error: () => subs.current.delete(id),
      });
      subs.current.set(id, stop);
    }
  }, [key]);
  // Stop everything when the page goes away.
  useEffect(() => () => {
    for (const stop of subs.current.values()) stop();
    subs.current.clear();
  }, []);
}

const IMAGE = `query Image($id: ID!) { image(id: $id) { ${IMAGE_FIELDS} } }`;
/** When each image was last fetched again, so that a broken picture costs one query, not a loop. */
const refreshed = new Map();

/**
 * Fetches an image again because one of its presigned URLs stopped working
 * (they expire: URL_TTL_SECONDS); at most once per 30 s per image.
 * @param {string} id
 * @param {(image: Image) => void} onUpdate
 * @param {(id: string) => void} onGone
 */
export function refreshImage(id, onUpdate, onGone) {
  const last = refreshed.get(id) ?? 0;
  if (Date.now() - last < 30_000) return;
  refreshed.set(id, Date.now());
  gql(IMAGE, { id }).then((d) => (d.image ? onUpdate(d.image) : onGone(id)), () => {});
}
