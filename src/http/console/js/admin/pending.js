// PLACES FOR ISSUE 11 (accounts) and the operations API: administration
// features the current schema.graphql cannot serve yet. Each is a module-sized
// slot with the API it will use; fill one in, set `available: true` (or, for
// the per-user actions, render them in UserActions), and it appears.
//
// Per user (rendered in the users table by UserActions below):
//   - disable / enable: `updateUser(id, { disabled })`; edit admin flag the same way;
//   - delete, with a confirmation saying what goes with the user (images,
//     links, sessions): `deleteUser(id)`;
//   - reset a password: `resetPassword(userId)` (show the new one once);
//   - sessions, revocable: `sessions(userId)`, `revokeSession(id)`;
//   - API tokens, revocable: `apiTokens(userId)`, `revokeApiToken(id)`;
//   - usage against the plan's quotas.
// In the plans table (./plans.js): the number of users on each plan needs a
//   field such as `Plan.userCount`; the console does not page through every
//   user to count them.
// Sections (own pages in the navigation):
//   - images: any user's images, newest first, with thumbnails; delete
//     (reuse ../user/card.js's ImageCard);
//   - operations: queue depth, running and failed jobs with their errors and
//     a retry action, database and storage readiness;
//   - audit log: `auditLog(first, after)`.
import { html, useTitle } from '../ui.js';

/** @param {{ user: import('../session.js').User }} _props */
export function UserActions(_props) {
  return null;
}

/** @param {string} title */
function placeholder(title) {
  return function Page() {
    useTitle(title);
    return html`<main id="main" class="page"><h1>${title}</h1><p>This section needs server API that is not available yet.</p></main>`;
  };
}

/** @type {{ route: string, label: string, available: boolean, Page: () => unknown }[]} */
export const SECTIONS = [
  { route: 'images', label: 'Images', available: false, Page: placeholder('Images') },
  { route: 'operations', label: 'Operations', available: false, Page: placeholder('Operations') },
  { route: 'audit', label: 'Audit log', available: false, Page: placeholder('Audit log') },
];
