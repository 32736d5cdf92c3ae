// Account actions that both apps share: logging out, and keeping the
// signed-in user fresh.
import { gql } from './api.js';
import { signOut, token, updateUser } from './session.js';

export const ME = `query Me { me { id username isAdmin createdAt
  plan { id name thumbnailHeights originalLink expiringLinks thumbnailFormat } } }`;

/**
 * Logs out. The current API has no `logout` mutation: the token stays valid
 * on the server until it expires, and only this tab forgets it.
 * PLACE FOR ISSUE 11 (accounts): once `logout` exists, call it here first,
 *   await gql('mutation { logout }').catch(() => {});
 * so that the server revokes the session too.
 */
export async function logout() {
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
