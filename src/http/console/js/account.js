// Account actions that both apps share.
import { signOut } from './session.js';

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
