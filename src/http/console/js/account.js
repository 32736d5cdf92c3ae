// Account actions that both apps share: logging out, and keeping the
// signed-in user fresh.
import { gql } from './api.js';
import { signOut, token, updateUser } from './session.js';

export const PLAN_FIELDS = 'id name thumbnailHeights originalLink expiringLinks thumbnailFormat maxImages maxStorageMib maxUploadsPerHour';
export const ME = `query Me { me { id username isAdmin createdAt plan { ${PLAN_FIELDS} } } }`;

/**
 * Logs out: the server ends the session (`logout`), then this tab forgets
 * the token. When the server cannot be reached the tab forgets it anyway;
 * the session then ends when it expires (or from the account page of
 * another session).
 */
export async function logout() {
  if (token()) await gql('mutation Logout { logout }').catch(() => {});
  signOut();
}

/** How often an open page asks who it is signed in as. */
const CHECK_EVERY_MS = 60_000;

/** Asks `me` now: a fresher user (plan changed), or, when the server refuses the token, a sign-out (in api.js). */
export function checkSession() {
  if (!token()) return;
  gql(ME).then((d) => updateUser(d.me), () => {});
}

let watching = false;

/**
 * Checks the session when the page is shown again and every minute while it
 * is visible, so that a page left open learns that its session ended (an
 * expired or revoked token, a disabled account) without waiting for the
 * person to do something.
 */
export function watchSession() {
  if (watching) return;
  watching = true;
  setInterval(() => {
    if (document.visibilityState === 'visible') checkSession();
  }, CHECK_EVERY_MS);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') checkSession();
  });
}
