// The signed-in session: the access token, when it expires, and who it is for.
//
// Kept in sessionStorage (this tab only, gone when the tab closes) so that a
// reload does not sign the person out. The token is never put in a URL. Any
// script on the page could read it, which is why the console's CSP allows no
// inline or foreign script: injected markup cannot run code here. See the
// README's "Web console" section.

/**
 * @typedef {{ id: string, name: string, thumbnailHeights: number[], originalLink: boolean,
 *   expiringLinks: boolean, thumbnailFormat: string, maxImages?: number | null, maxStorageMib?: number | null,
 *   maxUploadsPerHour?: number | null }} Plan
 * @typedef {{ id: string, username: string, isAdmin: boolean, createdAt: string, plan: Plan | null,
 *   disabled?: boolean, disabledAt?: string | null }} User
 * @typedef {{ token: string, expiresAt: string, user: User }} Session
 */

const KEY = 'image-vault.session';

/** @type {Session | null} */
let current = read();
/** Why the last session ended (shown above the login form), or null. */
let endedBecause = /** @type {string | null} */ (null);
/** @type {Set<() => void>} */
const listeners = new Set();
/** @type {ReturnType<typeof setTimeout> | undefined} */
let expiryTimer;

/** @returns {Session | null} */
function read() {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return null;
    const s = JSON.parse(raw);
    if (typeof s?.token !== 'string' || Date.parse(s.expiresAt) <= Date.now()) return null;
    return s;
  } catch {
    return null;
  }
}

function notify() {
  clearTimeout(expiryTimer);
  if (current) {
    // setTimeout's delay is a 32-bit number of milliseconds.
    const ms = Math.min(Date.parse(current.expiresAt) - Date.now(), 2 ** 31 - 1);
    expiryTimer = setTimeout(() => signOut('Your session expired. Please log in again.'), Math.max(ms, 0));
  }
  for (const fn of listeners) fn();
}

/** @returns {Session | null} */
export function session() {
  return current;
}

/** @returns {string | null} */
export function token() {
  return current?.token ?? null;
}

/** @returns {string | null} */
export function signOutReason() {
  return endedBecause;
}

/** @param {Session} s */
export function signIn(s) {
  current = s;
  endedBecause = null;
  try {
    sessionStorage.setItem(KEY, JSON.stringify(s));
  } catch {
    // Storage full or disabled: the session lasts as long as the page.
  }
  notify();
}

/** Replaces the stored user (after `me` answers with fresher data). @param {User} user */
export function updateUser(user) {
  if (!current) return;
  signIn({ ...current, user });
}

/**
 * Forgets the token. `reason` is shown above the login form; none when the
 * person chose to log out.
 * @param {string | null} [reason]
 */
export function signOut(reason = null) {
  if (!current && reason === endedBecause) return;
  current = null;
  endedBecause = reason;
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // Nothing stored.
  }
  notify();
}

/** Calls `fn` after every sign-in and sign-out; returns the unsubscribe. @param {() => void} fn */
export function onSessionChange(fn) {
  listeners.add(fn);
  return () => {
    listeners.delete(fn);
  };
}

// Another tab of the same origin signing out does not touch this tab's
// sessionStorage, so there is nothing to listen for; the server refusing the
// token (UNAUTHENTICATED) is what ends a session elsewhere.
if (current) notify();
