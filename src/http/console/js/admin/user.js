// One user's page at "#/users/<id>": edit the username, administrator flag
// and plan; disable or enable; reset the password; usage against the plan's
// quotas; their sessions and API tokens, revocable; delete, with a
// confirmation that says what goes with the user.
import { gql } from '../api.js';
import { PLAN_FIELDS } from '../account.js';
import { describe } from '../errors.js';
import { html, Note, Confirm, formatDate, useEffect, useState, useTitle, useFocusHeading } from '../ui.js';
import { USAGE_FIELDS, UsageSummary } from '../usage.js';
import { Sessions, TokenList, SESSION_FIELDS, TOKEN_FIELDS } from '../user/account.js';
import { UserStatus, flashOnUsers } from './users.js';

/** @typedef {import('../session.js').User & { usage: import('../usage.js').Usage }} FullUser */

const USER_FIELDS = `id username isAdmin createdAt disabled disabledAt plan { ${PLAN_FIELDS} } ${USAGE_FIELDS}`;
// The API has no `user(id)`: find the edge before the user in light pages,
// then ask for that one user with everything.
const SCAN = `query Scan($after: String) { users(first: 100, after: $after) {
  pageInfo { hasNextPage endCursor } edges { cursor node { id } } } }`;
const ONE = `query One($after: String, $id: ID!) {
  users(first: 1, after: $after) { nodes { ${USER_FIELDS} } }
  plans { id name }
  sessions(userId: $id) { ${SESSION_FIELDS} }
  apiTokens(userId: $id) { ${TOKEN_FIELDS} } }`;
const UPDATE = `mutation UpdateUser($id: ID!, $input: UpdateUserInput!) { updateUser(id: $id, input: $input) { ${USER_FIELDS} } }`;
const DISABLE = `mutation Disable($id: ID!) { disableUser(id: $id) { id disabled disabledAt } }`;
const ENABLE = `mutation Enable($id: ID!) { enableUser(id: $id) { id disabled disabledAt } }`;
const RESET = `mutation Reset($userId: ID!, $newPassword: String!) { resetPassword(userId: $userId, newPassword: $newPassword) }`;
const DELETE = `mutation DeleteUser($id: ID!) { deleteUser(id: $id) }`;

/** The `after` cursor that makes `id` the first user of a page (null: the first user), or undefined. @param {string} id */
async function cursorBefore(id) {
  /** @type {string | null} */
  let after = null;
  /** @type {string | null} */
  let previous = null;
  for (;;) {
    const { users } = await gql(SCAN, { after });
    for (const edge of users.edges) {
      if (edge.node.id === id) return previous;
      previous = edge.cursor;
    }
    if (!users.pageInfo.hasNextPage) return undefined;
    after = users.pageInfo.endCursor;
  }
}

/** @param {{ id: string, me: import('../session.js').User }} props */
export function UserPage({ id, me }) {
  const [user, setUser] = useState(/** @type {FullUser | null | undefined} */ (undefined));
  const [extra, setExtra] = useState(/** @type {any} */ (null));
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const [status, setStatus] = useState(/** @type {string | null} */ (null));
  const [cursor, setCursor] = useState(/** @type {string | null | undefined} */ (undefined));
  const heading = useFocusHeading([id, user === undefined]);
  useTitle(user ? `User ${user.username}` : 'User');

  /** @param {string | null | undefined} known */
  async function load(known = cursor) {
    try {
      const after = known === undefined ? await cursorBefore(id) : known;
      if (after === undefined) {
        setUser(null);
        return;
      }
      setCursor(after);
      const d = await gql(ONE, { after, id });
      const found = d.users.nodes[0];
      setUser(found?.id === id ? found : null);
      setExtra(d);
    } catch (err) {
      setError(describe(err));
    }
  }
  useEffect(() => {
    setUser(undefined);
    setCursor(undefined);
    load(undefined);
  }, [id]);

  /** @param {Partial<FullUser>} changed @param {string} words */
  function changed(changed, words) {
    setUser((u) => (u ? { ...u, ...changed } : u));
    setStatus(words);
    setError(null);
  }

  const back = html`<p><a href="#/users">← All users</a></p>`;
  if (error && user === undefined) return html`<main id="main" class="page">${back}<h1 tabindex="-1" ref=${heading}>User</h1><${Note} kind="error">${error}<//></main>`;
  if (user === undefined) return html`<main id="main" class="page">${back}<h1 tabindex="-1" ref=${heading}>User</h1><p role="status">Loading…</p></main>`;
  if (user === null) return html`<main id="main" class="page">${back}<h1 tabindex="-1" ref=${heading}>User not found</h1><p>This user does not exist (any more).</p></main>`;
  const self = user.id === me.id;
  return html`<main id="main" class="page">
    ${back}
    <h1 tabindex="-1" ref=${heading}>${user.username}${self ? ' (you)' : ''}</h1>
    <p>${user.isAdmin ? 'Administrator' : 'User'} · status <${UserStatus} user=${user} />${user.disabledAt ? html` since <time datetime=${user.disabledAt}>${formatDate(user.disabledAt)}</time>` : ''}${' · '}created <time datetime=${user.createdAt}>${formatDate(user.createdAt)}</time>${' · '}<a href=${`#/images/${encodeURIComponent(user.id)}`}>Images of ${user.username}</a></p>
    <${Note} kind="ok">${status}<//>
    <${Note} kind="error">${error}<//>
    <section aria-labelledby="usage-heading">
      <h2 id="usage-heading">Usage on plan ${user.plan?.name ?? '(none)'}</h2>
      <${UsageSummary} usage=${user.usage} plan=${user.plan} label=${`Usage of ${user.username}`} />
    </section>
    <${EditUser} user=${user} plans=${extra?.plans ?? []} onSaved=${(/** @type {FullUser} */ u) => changed(u, `Saved ${u.username}.`)} onError=${setError} />
    <${Status} user=${user} self=${self} onChanged=${(/** @type {any} */ u, /** @type {string} */ w) => { changed(u, w); load(); }} onError=${setError} />
    <${ResetPassword} user=${user} onDone=${(/** @type {string} */ w) => { setStatus(w); load(); }} />
    <${Sessions} sessions=${extra?.sessions ?? null} whose=${user.username} onChanged=${() => load()} />
    <section aria-labelledby="user-tokens-heading">
      <h2 id="user-tokens-heading">${user.username}'s API tokens</h2>
      <${TokenList} tokens=${extra?.apiTokens ?? null} onChanged=${() => load()} />
    </section>
    ${!self && html`<${DeleteUser} user=${user} onError=${setError} />`}
  </main>`;
}

/** @param {{ user: FullUser, plans: { id: string, name: string }[], onSaved: (u: FullUser) => void, onError: (e: string | null) => void }} props */
function EditUser({ user, plans, onSaved, onError }) {
  const [username, setUsername] = useState(user.username);
  const [isAdmin, setIsAdmin] = useState(user.isAdmin);
  const [planId, setPlanId] = useState(user.plan?.id ?? '');
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    setUsername(user.username);
    setIsAdmin(user.isAdmin);
    setPlanId(user.plan?.id ?? '');
  }, [user.id, user.username, user.isAdmin, user.plan?.id]);

  /** @param {SubmitEvent} e */
  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    onError(null);
    try {
      const { updateUser } = await gql(UPDATE, { id: user.id, input: { username, isAdmin, planId: planId || null } });
      onSaved(updateUser);
    } catch (err) {
      onError(`${user.username} was not saved. ${describe(err)}`);
    } finally {
      setBusy(false);
    }
  }

  return html`<section class="panel" aria-labelledby="edit-heading">
    <h2 id="edit-heading">Edit</h2>
    <form class="form-grid" onSubmit=${submit}>
      <label for="edit-username">Username</label>
      <input id="edit-username" required autocomplete="off" value=${username} onInput=${(/** @type {any} */ e) => setUsername(e.currentTarget.value)} />
      <label for="edit-plan">Plan</label>
      <select id="edit-plan" value=${planId} onChange=${(/** @type {any} */ e) => setPlanId(e.currentTarget.value)}>
        <option value="">No plan</option>
        ${plans.map((p) => html`<option value=${p.id}>${p.name}</option>`)}
      </select>
      <span class="check grid-wide">
        <input id="edit-admin" type="checkbox" checked=${isAdmin} onChange=${(/** @type {any} */ e) => setIsAdmin(e.currentTarget.checked)} />
        <label for="edit-admin">Administrator</label>
      </span>
      <button type="submit" class="grid-wide" disabled=${busy}>Save changes</button>
    </form>
  </section>`;
}

/** @param {{ user: FullUser, self: boolean, onChanged: (u: any, words: string) => void, onError: (e: string | null) => void }} props */
function Status({ user, self, onChanged, onError }) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);

  async function run(/** @type {boolean} */ disable) {
    setBusy(true);
    onError(null);
    try {
      const d = await gql(disable ? DISABLE : ENABLE, { id: user.id });
      setAsking(false);
      onChanged(disable ? d.disableUser : d.enableUser,
        disable ? `${user.username} is disabled: signed out everywhere, and cannot log in.` : `${user.username} is enabled and may log in again.`);
    } catch (err) {
      setAsking(false);
      onError(describe(err));
    } finally {
      setBusy(false);
    }
  }

  return html`<section aria-labelledby="status-heading">
    <h2 id="status-heading">Status: ${user.disabled ? 'disabled' : 'enabled'}</h2>
    ${user.disabled
      ? html`<p>${user.username} cannot log in. Enabling lets them log in again; their old sessions and tokens stay revoked.</p>
          <button type="button" disabled=${busy} onClick=${() => run(false)}>Enable ${user.username}</button>`
      : self
        ? html`<p class="hint">You cannot disable yourself.</p>`
        : asking
          ? html`<${Confirm} question=${`Disable ${user.username}? They are signed out everywhere at once (sessions, API tokens, open pages) and cannot log in until enabled.`}
              yes="Yes, disable" no="Keep enabled" busy=${busy} onYes=${() => run(true)} onNo=${() => setAsking(false)} />`
          : html`<button type="button" class="danger" onClick=${() => setAsking(true)}>Disable ${user.username}…</button>`}
  </section>`;
}

/** @param {{ user: FullUser, onDone: (words: string) => void }} props */
function ResetPassword({ user, onDone }) {
  const [password, setPassword] = useState('');
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const [busy, setBusy] = useState(false);

  /** @param {SubmitEvent} e */
  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await gql(RESET, { userId: user.id, newPassword: password });
      setPassword('');
      onDone(`Password of ${user.username} reset. Their sessions and API tokens were signed out; tell them the new password.`);
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  }

  return html`<section class="panel" aria-labelledby="reset-heading">
    <h2 id="reset-heading">Reset the password</h2>
    <form class="form-grid" onSubmit=${submit}>
      <label for="reset-password">New password</label>
      <input id="reset-password" type="password" required minlength="8" autocomplete="new-password" aria-describedby="reset-hint"
        value=${password} onInput=${(/** @type {any} */ e) => setPassword(e.currentTarget.value)} />
      <span id="reset-hint" class="hint grid-wide">At least 8 characters. Every session and API token of ${user.username} stops working.</span>
      <button type="submit" class="grid-wide" disabled=${busy}>Reset password</button>
    </form>
    <${Note} kind="error">${error}<//>
  </section>`;
}

/** @param {{ user: FullUser, onError: (e: string | null) => void }} props */
function DeleteUser({ user, onError }) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);

  async function remove() {
    setBusy(true);
    onError(null);
    try {
      await gql(DELETE, { id: user.id });
      flashOnUsers(`Deleted ${user.username} and everything of theirs.`);
      location.hash = '#/users';
    } catch (err) {
      setAsking(false);
      onError(`${user.username} was not deleted. ${describe(err)}`);
    } finally {
      setBusy(false);
    }
  }

  const n = user.usage.images;
  return html`<section aria-labelledby="delete-heading">
    <h2 id="delete-heading">Delete</h2>
    ${asking
      ? html`<${Confirm} question=${`Delete ${user.username} for good? With them go their ${n} image${n === 1 ? '' : 's'} and every thumbnail, expiring link, unfinished upload, session and API token of theirs. This cannot be undone.`}
          yes=${`Yes, delete ${user.username}`} no="Keep" busy=${busy} onYes=${remove} onNo=${() => setAsking(false)} />`
      : html`<button type="button" class="danger" onClick=${() => setAsking(true)}>Delete ${user.username}…</button>`}
  </section>`;
}
