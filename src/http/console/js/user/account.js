// PLACE FOR ISSUE 11 (accounts): the user's own account page at "#/account".
//
// What goes here once the API has it (none of it is in schema.graphql yet):
// - change password: `changePassword(current, new)`;
// - sessions: the list from `sessions`, "sign out elsewhere" with
//   `revokeSession(id)`;
// - API tokens: `apiTokens`, `createApiToken(name)` (show the secret once,
//   with a copy button), `revokeApiToken(id)`;
// - usage against the plan's quotas.
// Each talks to the server through ../api.js (`gql`), like the gallery.
// Set ACCOUNT_PAGE_AVAILABLE to true to show the page in the navigation.
import { html, useTitle } from '../ui.js';

export const ACCOUNT_PAGE_AVAILABLE = false;

/** @param {{ user: import('../session.js').User }} props */
export function AccountPage({ user }) {
  useTitle('Account');
  return html`<main id="main" class="page">
    <h1>Your account</h1>
    <p>Signed in as <strong>${user.username}</strong>, plan ${user.plan?.name ?? 'none'}.</p>
    <p>Changing your password, your sessions and API tokens arrive with the accounts API.</p>
  </main>`;
}
