// Users: the list with paging (newest first), a search by name (on the
// server, over every user), the plan and status of each user, and creating a
// user. Everything else
// about one user is on their page (./user.js, "#/users/<id>").
import { gql } from '../api.js';
import { describe } from '../errors.js';
import { html, Note, Pager, formatDate, useEffect, useRef, useState, useTitle, useFocusHeading } from '../ui.js';

/** @typedef {import('../session.js').User} User */
/** @typedef {{ id: string, name: string }} PlanRef */

const PAGE = 20;
/** How long typing pauses before the search is sent, in milliseconds. */
const SEARCH_DELAY = 250;
const USERS = `query Users($first: Int!, $after: String, $search: String) {
  users(first: $first, after: $after, search: $search) {
    pageInfo { hasNextPage endCursor }
    nodes { id username isAdmin createdAt disabled plan { id name thumbnailHeights originalLink expiringLinks thumbnailFormat } }
  }
  plans { id name }
}`;
const SET_PLAN = `mutation SetPlan($userId: ID!, $planId: ID) {
  setUserPlan(userId: $userId, planId: $planId) { id plan { id name thumbnailHeights originalLink expiringLinks thumbnailFormat } } }`;
const CREATE_USER = `mutation CreateUser($input: CreateUserInput!) { createUser(input: $input) { id username } }`;

/** A one-off message for the users page (after a user is deleted on their page). */
let flash = /** @type {string | null} */ (null);

/** @param {string} message */
export function flashOnUsers(message) {
  flash = message;
}

/** @param {{ me: User }} props */
export function UsersPage({ me }) {
  useTitle('Users');
  // A new page: the keyboard focus (and a screen reader) starts at its heading.
  const heading = useFocusHeading();
  const [users, setUsers] = useState(/** @type {User[]} */ ([]));
  const [plans, setPlans] = useState(/** @type {PlanRef[]} */ ([]));
  // cursors[n] is the `after` of page n; the last entry is the page shown.
  const [cursors, setCursors] = useState(/** @type {(string | null)[]} */ ([null]));
  const [next, setNext] = useState(/** @type {string | null} */ (null));
  // What is typed, and the search the list shows (typing settles first).
  const [typed, setTyped] = useState('');
  const [search, setSearch] = useState('');
  // The number of the newest request; only its answer is shown.
  const latest = useRef(0);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const [status, setStatus] = useState(() => {
    const m = flash;
    flash = null;
    return m;
  });

  /**
   * @param {(string | null)[]} stack
   * @param {string} [term] the search, by default the one shown
   */
  async function load(stack, term = search) {
    const ticket = ++latest.current;
    setLoading(true);
    setError(null);
    try {
      const d = await gql(USERS, { first: PAGE, after: stack[stack.length - 1], search: term || null });
      // An older search answered late: the newer one decides what is shown.
      if (ticket !== latest.current) return;
      setUsers(d.users.nodes);
      setPlans(d.plans);
      setNext(d.users.pageInfo.hasNextPage ? d.users.pageInfo.endCursor : null);
      setCursors(stack);
    } catch (err) {
      if (ticket === latest.current) setError(describe(err));
    } finally {
      if (ticket === latest.current) setLoading(false);
    }
  }
  useEffect(() => {
    load([null]);
  }, []);
  // A new search starts again at page 1: on Enter, or once typing has
  // paused. The term is normalised as the API normalises usernames.
  function searchTyped() {
    const term = typed.trim().toLowerCase();
    setSearch(term);
    load([null], term);
  }
  useEffect(() => {
    if (typed.trim().toLowerCase() === search) return undefined;
    const timer = setTimeout(searchTyped, SEARCH_DELAY);
    return () => clearTimeout(timer);
  }, [typed]);

  const pageNumber = cursors.length;

  return html`<main id="main" class="page">
    <h1 tabindex="-1" ref=${heading}>Users</h1>
    <${Note} kind="ok">${status}<//>
    <${CreateUser} plans=${plans} onCreated=${(/** @type {string} */ name) => { setStatus(`Created user ${name}.`); load([null]); }} />
    <section aria-labelledby="users-heading">
      <h2 id="users-heading">All users</h2>
      <form class="field-inline" role="search" onSubmit=${(/** @type {Event} */ e) => { e.preventDefault(); searchTyped(); }}>
        <label for="users-search">Search users by name</label>
        <input id="users-search" type="search" maxlength="64" aria-describedby="users-search-hint" value=${typed} onInput=${(/** @type {any} */ e) => setTyped(e.currentTarget.value)} />
      </form>
      <p class="hint" id="users-search-hint">Matches any part of a username, across all users.</p>
      <${Note} kind="error">${error}<//>
      <table class="table users-table" aria-busy=${loading ? 'true' : 'false'}>
        <caption class="visually-hidden">Users${search ? ` whose name contains “${search}”` : ''}, newest first, page ${pageNumber}</caption>
        <thead><tr><th scope="col">Username</th><th scope="col">Role</th><th scope="col">Plan</th><th scope="col">Status</th><th scope="col">Created</th><th scope="col">More</th></tr></thead>
        <tbody>
          ${users.map((u) => html`<${UserRow} key=${u.id} user=${u} plans=${plans} me=${me}
            onChanged=${(/** @type {User} */ changed, /** @type {string} */ words) => {
              setUsers((old) => old.map((x) => (x.id === changed.id ? { ...x, ...changed } : x)));
              setStatus(words);
            }} />`)}
        </tbody>
      </table>
      ${!loading && users.length === 0 && html`<p>No users${search ? ` have “${search}” in their name` : ''}.</p>`}
      <${Pager} label="Pages of users" cursors=${cursors} next=${next} loading=${loading} onPage=${load} />
    </section>
  </main>`;
}

/** @param {{ user: User, plans: PlanRef[], me: User, onChanged: (u: User, words: string) => void }} props */
function UserRow({ user, plans, me, onChanged }) {
  const [planId, setPlanId] = useState(user.plan?.id ?? '');
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const [busy, setBusy] = useState(false);
  const selectId = `plan-${user.id}`;
  async function save() {
    setBusy(true);
    setError(null);
    try {
      const { setUserPlan } = await gql(SET_PLAN, { userId: user.id, planId: planId || null });
      onChanged(setUserPlan, `${user.username} is now on ${setUserPlan.plan?.name ?? 'no plan'}.`);
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  }
  return html`<tr data-username=${user.username}>
    <td data-label="Username"><strong>${user.username}</strong>${user.id === me.id ? ' (you)' : ''}</td>
    <td data-label="Role">${user.isAdmin ? 'Administrator' : 'User'}</td>
    <td data-label="Plan">
      <span class="row-form">
        <label class="visually-hidden" for=${selectId}>Plan for ${user.username}</label>
        <select id=${selectId} value=${planId} onChange=${(/** @type {any} */ e) => setPlanId(e.currentTarget.value)}>
          <option value="">No plan</option>
          ${plans.map((p) => html`<option value=${p.id}>${p.name}</option>`)}
        </select>
        <button type="button" class="secondary" disabled=${busy || planId === (user.plan?.id ?? '')}
          onClick=${save} aria-label=${`Set plan for ${user.username}`}>Set plan</button>
      </span>
      ${error && html`<span class="row-error" role="alert">${error}</span>`}
    </td>
    <td data-label="Status"><${UserStatus} user=${user} /></td>
    <td data-label="Created"><time datetime=${user.createdAt}>${formatDate(user.createdAt)}</time></td>
    <td data-label="More"><span class="row-form">
      <a href=${`#/users/${encodeURIComponent(user.id)}`} aria-label=${`Manage ${user.username}`}>Manage</a>
      <a href=${`#/images/${encodeURIComponent(user.id)}`} aria-label=${`Images of ${user.username}`}>Images</a>
    </span></td>
  </tr>`;
}

/** @param {{ plans: PlanRef[], onCreated: (username: string) => void }} props */
function CreateUser({ plans, onCreated }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [isAdmin, setIsAdmin] = useState(false);
  const [planId, setPlanId] = useState('');
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const [busy, setBusy] = useState(false);

  /** @param {SubmitEvent} e */
  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const input = { username, password, isAdmin, ...(planId ? { planId } : {}) };
      const { createUser } = await gql(CREATE_USER, { input });
      setUsername('');
      setPassword('');
      setIsAdmin(false);
      onCreated(createUser.username);
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  }

  return html`<section aria-labelledby="create-user-heading" class="panel">
    <h2 id="create-user-heading">Create a user</h2>
    <form class="form-grid" onSubmit=${submit}>
      <label for="new-username">Username</label>
      <input id="new-username" required autocomplete="off" value=${username} onInput=${(/** @type {any} */ e) => setUsername(e.currentTarget.value)} />
      <label for="new-password">Password</label>
      <input id="new-password" type="password" required minlength="8" autocomplete="new-password" aria-describedby="new-password-hint"
        value=${password} onInput=${(/** @type {any} */ e) => setPassword(e.currentTarget.value)} />
      <span id="new-password-hint" class="hint grid-wide">At least 8 characters.</span>
      <label for="new-plan">Plan</label>
      <select id="new-plan" value=${planId} onChange=${(/** @type {any} */ e) => setPlanId(e.currentTarget.value)}>
        <option value="">Basic (the default)</option>
        ${plans.map((p) => html`<option value=${p.id}>${p.name}</option>`)}
      </select>
      <span class="check grid-wide">
        <input id="new-admin" type="checkbox" checked=${isAdmin} onChange=${(/** @type {any} */ e) => setIsAdmin(e.currentTarget.checked)} />
        <label for="new-admin">Administrator</label>
      </span>
      <button type="submit" class="grid-wide" disabled=${busy}>Create user</button>
    </form>
    <${Note} kind="error">${error}<//>
  </section>`;
}

/** "Enabled" or "Disabled", in words and colour. @param {{ user: User }} props */
export function UserStatus({ user }) {
  return user.disabled
    ? html`<span class="status-disabled">Disabled</span>`
    : html`<span class="status-enabled">Enabled</span>`;
}
