// The view layer every page uses: Preact with htm templates (no JSX, so no
// build step), and the few pieces that every page shares.
import htm from '../vendor/htm.mjs';
import { h, render } from '../vendor/preact.mjs';
import { useState, useEffect, useRef, useId } from '../vendor/hooks.mjs';
import { session, onSessionChange } from './session.js';

export { render };
export { useState, useEffect, useRef, useMemo, useCallback, useId } from '../vendor/hooks.mjs';

/** Tagged template producing Preact elements: html`<p>${text}</p>`. */
export const html = htm.bind(h);

/**
 * A message in words; `role="alert"` makes screen readers announce errors,
 * `role="status"` other news, without moving the focus.
 * @param {{ kind?: 'error' | 'ok' | 'info', children?: unknown, id?: string }} props
 */
export function Note({ kind = 'info', children, id }) {
  if (children === null || children === undefined || children === '') return null;
  return html`<p id=${id} class=${`note note-${kind}`} role=${kind === 'error' ? 'alert' : 'status'}>${children}</p>`;
}

/** @param {string} iso */
export function formatDate(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** "in 5 minutes", "in 3 hours", "2 days ago". @param {string} iso */
export function relative(iso) {
  const seconds = (Date.parse(iso) - Date.now()) / 1000;
  const abs = Math.abs(seconds);
  /** @type {[Intl.RelativeTimeFormatUnit, number][]} */
  const units = [['day', 86400], ['hour', 3600], ['minute', 60], ['second', 1]];
  const [unit, size] = units.find(([, s]) => abs >= s) ?? ['second', 1];
  return new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' }).format(Math.round(seconds / size), unit);
}

/** @param {number} n */
export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/**
 * The page header: product name, navigation, who is signed in, log out.
 * @param {{ title: string, home: string, user: import('./session.js').User | null, onLogout: () => void,
 *   nav?: { href: string, label: string, current?: boolean }[] }} props
 */
export function Header({ title, home, user, onLogout, nav = [] }) {
  return html`<header class="top">
    <a class="brand" href=${home}>image-vault <span class="brand-sub">${title}</span></a>
    ${nav.length > 0 && html`<nav aria-label="Sections"><ul>
      ${nav.map((n) => html`<li><a href=${n.href} aria-current=${n.current ? 'page' : undefined}>${n.label}</a></li>`)}
    </ul></nav>`}
    ${user && html`<div class="who">
      <span>Signed in as <strong>${user.username}</strong></span>
      <button type="button" class="secondary" onClick=${onLogout}>Log out</button>
    </div>`}
  </header>`;
}

/** Sets the document title (what screen readers and tabs show) for a page. @param {string} title */
export function useTitle(title) {
  document.title = `${title} · image-vault`;
}

/** The current session, re-rendering on sign-in and sign-out. */
export function useSession() {
  const [s, set] = useState(session());
  useEffect(() => onSessionChange(() => set(session())), []);
  return s;
}

/**
 * The part of the location hash after "#/", split at "/" (["image", id]);
 * other hashes (in-page anchors) leave the route alone.
 * @returns {string[]}
 */
export function useRoute() {
  const parse = () => (location.hash.startsWith('#/') ? location.hash.slice(2).split('/').filter(Boolean).map(decodeURIComponent) : null);
  const [route, set] = useState(() => parse() ?? []);
  useEffect(() => {
    const onHash = () => {
      const r = parse();
      if (r) set(r);
    };
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  return route;
}

/** Moves the keyboard focus to a page's heading when the page changes. */
export function useFocusHeading(deps = /** @type {unknown[]} */ ([])) {
  const ref = useRef(/** @type {HTMLHeadingElement | null} */ (null));
  useEffect(() => ref.current?.focus(), deps);
  return ref;
}

/**
 * A question before something that cannot be undone: the safe answer takes
 * the keyboard focus, so Enter never destroys by accident.
 * @param {{ question: unknown, yes: string, no?: string, onYes: () => void, onNo: () => void, busy?: boolean }} props
 */
export function Confirm({ question, yes, no = 'Cancel', onYes, onNo, busy = false }) {
  const safe = useRef(/** @type {HTMLButtonElement | null} */ (null));
  const id = useId();
  useEffect(() => safe.current?.focus(), []);
  return html`<div class="confirm" role="group" aria-labelledby=${id}>
    <span id=${id}>${question}</span>
    <button type="button" class="danger" disabled=${busy} onClick=${onYes}>${yes}</button>
    <button type="button" class="secondary" ref=${safe} onClick=${onNo}>${no}</button>
  </div>`;
}

/**
 * Forward paging through a connection: `cursors[n]` is the `after` of page
 * n + 1; the last is the page shown.
 * @param {{ label: string, cursors: (string | null)[], next: string | null, loading: boolean,
 *   onPage: (cursors: (string | null)[]) => void }} props
 */
export function Pager({ label, cursors, next, loading, onPage }) {
  return html`<nav class="pager" aria-label=${label}>
    <button type="button" class="secondary" disabled=${cursors.length <= 1 || loading} onClick=${() => onPage(cursors.slice(0, -1))}>Previous page</button>
    <span>Page ${cursors.length}</span>
    <button type="button" class="secondary" disabled=${!next || loading} onClick=${() => onPage([...cursors, next])}>Next page</button>
  </nav>`;
}
