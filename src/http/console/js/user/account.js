// The account page at "#/account": your plan and usage, your password, your
// sessions (sign out elsewhere) and your API tokens (create, with the secret
// shown once; revoke).
import { gql } from '../api.js';
import { PLAN_FIELDS } from '../account.js';
import { describe } from '../errors.js';
import { html, Note, Confirm, formatDate, relative, useEffect, useState, useTitle, useFocusHeading } from '../ui.js';
import { USAGE_FIELDS, UsageSummary } from '../usage.js';

/**
 * @typedef {{ id: string, createdAt: string, lastUsedAt: string, expiresAt: string, clientAddress: string | null,
 *   userAgent: string | null, current: boolean }} Session
 * @typedef {{ id: string, name: string, prefix: string, createdAt: string, lastUsedAt: string | null,
 *   expiresAt: string | null }} ApiToken
 */

export const SESSION_FIELDS = 'id createdAt lastUsedAt expiresAt clientAddress userAgent current';
export const TOKEN_FIELDS = 'id name prefix createdAt lastUsedAt expiresAt';
const ACCOUNT = `query Account { me { id plan { ${PLAN_FIELDS} } ${USAGE_FIELDS} }
  sessions { ${SESSION_FIELDS} } apiTokens { ${TOKEN_FIELDS} } }`;
const CHANGE_PASSWORD = `mutation ChangePassword($currentPassword: String!, $newPassword: String!) {
  changePassword(currentPassword: $currentPassword, newPassword: $newPassword) }`;
const REVOKE_SESSION = `mutation RevokeSession($id: ID!) { revokeSession(id: $id) }`;
const CREATE_TOKEN = `mutation CreateToken($name: String!, $expiresIn: Int) {
  createApiToken(name: $name, expiresIn: $expiresIn) { secret apiToken { ${TOKEN_FIELDS} } } }`;
const REVOKE_TOKEN = `mutation RevokeToken($id: ID!) { revokeApiToken(id: $id) }`;

const DAY = 86400;
const LIFETIMES = [
  { value: String(7 * DAY), label: '7 days' },
  { value: String(30 * DAY), label: '30 days' },
  { value: String(90 * DAY), label: '90 days' },
  { value: String(365 * DAY), label: '1 year' },
  { value: '', label: 'Never (until revoked)' },
];

/** "Chrome on Linux"-ish words from a user agent, or what there is. @param {string | null} ua */
export function browserName(ua) {
  if (!ua) return 'Unknown client';
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrom(e|ium)\//.test(ua) ? 'Chrome'
    : /Safari\//.test(ua) ? 'Safari' : null;
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Windows/.test(ua) ? 'Windows'
    : /Mac OS X/.test(ua) ? 'macOS' : /Linux/.test(ua) ? 'Linux' : null;
  if (browser) return os ? `${browser} on ${os}` : browser;
  return ua.length > 60 ? `${ua.slice(0, 60)}…` : ua;
}

/** @param {{ user: import('../session.js').User }} props */
export function AccountPage({ user }) {
  useTitle('Your account');
  const heading = useFocusHeading();
  const [data, setData] = useState(/** @type {any} */ (null));
  const [error, setError] = useState(/** @type {string | null} */ (null));

  async function load() {
    try {
      setData(await gql(ACCOUNT));
      setError(null);
    } catch (err) {
      setError(describe(err));
    }
  }
  useEffect(() => {
    load();
  }, [user.id]);

  return html`<main id="main" class="page">
    <h1 tabindex="-1" ref=${heading}>Your account</h1>
    <p>Signed in as <strong>${user.username}</strong>, plan <strong>${data?.me.plan?.name ?? user.plan?.name ?? 'none'}</strong>.</p>
    <${Note} kind="error">${error}<//>
    ${data && html`<${UsageSummary} usage=${data.me.usage} plan=${data.me.plan} label="Your usage" />`}
    <${ChangePassword} onChanged=${load} />
    <${Sessions} sessions=${data?.sessions ?? null} onChanged=${load} />
    <${Tokens} tokens=${data?.apiTokens ?? null} onChanged=${load} />
  </main>`;
}

/** @param {{ onChanged: () => void }} props */
function ChangePassword({ onChanged }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const [status, setStatus] = useState(/** @type {string | null} */ (null));
  const [busy, setBusy] = useState(false);

  /** @param {SubmitEvent} e */
  async function submit(e) {
    e.preventDefault();
    setError(null);
    setStatus(null);
    if (next !== again) {
      setError('The new password and its repetition differ.');
      return;
    }
    setBusy(true);
    try {
      await gql(CHANGE_PASSWORD, { currentPassword: current, newPassword: next });
      setCurrent('');
      setNext('');
      setAgain('');
      setStatus('Password changed. Your other sessions and your API tokens were signed out; this one stays.');
      onChanged();
    } catch (err) {
      // A wrong current password is refused as bad input, not as a lost session.
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  }

  return html`<section class="panel" aria-labelledby="password-heading">
    <h2 id="password-heading">Change your password</h2>
    <form class="form-grid" onSubmit=${submit}>
      <label for="pw-current">Current password</label>
      <input id="pw-current" type="password" required autocomplete="current-password" value=${current}
        onInput=${(/** @type {any} */ e) => setCurrent(e.currentTarget.value)} />
      <label for="pw-new">New password</label>
      <input id="pw-new" type="password" required minlength="8" autocomplete="new-password" aria-describedby="pw-hint" value=${next}
        onInput=${(/** @type {any} */ e) => setNext(e.currentTarget.value)} />
      <label for="pw-again">New password again</label>
      <input id="pw-again" type="password" required minlength="8" autocomplete="new-password" value=${again}
        onInput=${(/** @type {any} */ e) => setAgain(e.currentTarget.value)} />
      <span id="pw-hint" class="hint grid-wide">At least 8 characters. Your other sessions and your API tokens stop working.</span>
      <button type="submit" class="grid-wide" disabled=${busy}>Change password</button>
    </form>
    <${Note} kind="ok">${status}<//>
    <${Note} kind="error">${error}<//>
  </section>`;
}

/**
 * A list of sessions with a sign-out button for each but the current one;
 * shared with the administrator's user page.
 * @param {{ sessions: Session[] | null, onChanged: () => void, whose?: string }} props
 */
export function Sessions({ sessions, onChanged, whose }) {
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const [status, setStatus] = useState(/** @type {string | null} */ (null));
  const [busy, setBusy] = useState(false);
  const others = (sessions ?? []).filter((x) => !x.current);

  /** @param {Session[]} list */
  async function revoke(list) {
    setBusy(true);
    setError(null);
    setStatus(null);
    try {
      for (const x of list) await gql(REVOKE_SESSION, { id: x.id });
      setStatus(list.length === 1 ? 'Session signed out.' : `${list.length} sessions signed out.`);
      onChanged();
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  }

  const title = whose ? `${whose}'s sessions` : 'Your sessions';
  return html`<section aria-labelledby="sessions-heading">
    <h2 id="sessions-heading">${title}</h2>
    <p class="hint">Every login is a session until it expires or is signed out.</p>
    <${Note} kind="ok">${status}<//>
    <${Note} kind="error">${error}<//>
    ${sessions && sessions.length === 0 && html`<p>No live sessions.</p>`}
    ${sessions && sessions.length > 0 && html`<table class="table sessions-table">
      <thead><tr><th scope="col">Client</th><th scope="col">Signed in</th><th scope="col">Last used</th>
        <th scope="col">Expires</th><th scope="col">Actions</th></tr></thead>
      <tbody>
        ${sessions.map((x, i) => html`<tr key=${x.id} data-session=${x.id} data-current=${x.current ? 'true' : 'false'}>
          <td data-label="Client">${browserName(x.userAgent)}${x.clientAddress ? html` <span class="muted">from ${x.clientAddress}</span>` : ''}
            ${x.current && html`<span class="current-tag">This session</span>`}</td>
          <td data-label="Signed in"><time datetime=${x.createdAt}>${formatDate(x.createdAt)}</time></td>
          <td data-label="Last used"><time datetime=${x.lastUsedAt} title=${formatDate(x.lastUsedAt)}>${relative(x.lastUsedAt)}</time></td>
          <td data-label="Expires"><time datetime=${x.expiresAt} title=${formatDate(x.expiresAt)}>${relative(x.expiresAt)}</time></td>
          <td data-label="Actions">${x.current
            ? html`<span class="muted">Use “Log out”</span>`
            : html`<button type="button" class="secondary" disabled=${busy} aria-label=${`Sign out session ${i + 1} (${browserName(x.userAgent)})`}
                onClick=${() => revoke([x])}>Sign out</button>`}</td>
        </tr>`)}
      </tbody>
    </table>`}
    ${!whose && others.length > 1 && html`<p><button type="button" class="secondary" disabled=${busy} onClick=${() => revoke(others)}>Sign out everywhere else</button></p>`}
  </section>`;
}

/** @param {{ tokens: ApiToken[] | null, onChanged: () => void }} props */
function Tokens({ tokens, onChanged }) {
  const [name, setName] = useState('');
  const [lifetime, setLifetime] = useState(String(30 * DAY));
  const [secret, setSecret] = useState(/** @type {{ name: string, secret: string } | null} */ (null));
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const [status, setStatus] = useState(/** @type {string | null} */ (null));
  const [busy, setBusy] = useState(false);

  /** @param {SubmitEvent} e */
  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setStatus(null);
    try {
      const { createApiToken } = await gql(CREATE_TOKEN, { name, expiresIn: lifetime ? Number(lifetime) : null });
      setSecret({ name: createApiToken.apiToken.name, secret: createApiToken.secret });
      setName('');
      onChanged();
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  }

  async function copy() {
    if (!secret) return;
    try {
      await navigator.clipboard.writeText(secret.secret);
      setStatus('Token copied to the clipboard.');
    } catch {
      setStatus('Copying is not allowed here: select the token and copy it yourself.');
    }
  }

  return html`<section aria-labelledby="tokens-heading">
    <h2 id="tokens-heading">API tokens</h2>
    <p class="hint">For scripts: send a token as <code>Authorization: Bearer …</code>. It acts as you, except that it cannot make more tokens.</p>
    <form class="panel inline-form" onSubmit=${submit} aria-label="Create an API token">
      <label for="token-name">Token name</label>
      <input id="token-name" required maxlength="64" value=${name} onInput=${(/** @type {any} */ e) => setName(e.currentTarget.value)} />
      <label for="token-lifetime">Expires after</label>
      <select id="token-lifetime" value=${lifetime} onChange=${(/** @type {any} */ e) => setLifetime(e.currentTarget.value)}>
        ${LIFETIMES.map((l) => html`<option value=${l.value}>${l.label}</option>`)}
      </select>
      <button type="submit" disabled=${busy}>Create token</button>
    </form>
    <${Note} kind="error">${error}<//>
    ${secret && html`<div class="panel secret-box" role="region" aria-labelledby="secret-heading">
      <h3 id="secret-heading">Token “${secret.name}” created</h3>
      <p><strong>Copy it now: it is shown only this once.</strong> The server keeps only a hash of it.</p>
      <label for="token-secret">Secret of ${secret.name}</label>
      <input id="token-secret" class="secret" readonly value=${secret.secret} onFocus=${(/** @type {any} */ e) => e.currentTarget.select()} />
      <p class="row-form">
        <button type="button" onClick=${copy}>Copy token</button>
        <button type="button" class="secondary" onClick=${() => { setSecret(null); setStatus(null); }}>Done, hide it</button>
      </p>
    </div>`}
    <${Note} kind="ok">${status}<//>
    <${TokenList} tokens=${tokens} onChanged=${onChanged} />
  </section>`;
}

/**
 * API tokens with their last use and a revoke action; shared with the
 * administrator's user page.
 * @param {{ tokens: ApiToken[] | null, onChanged: () => void }} props
 */
export function TokenList({ tokens, onChanged }) {
  const [asking, setAsking] = useState(/** @type {ApiToken | null} */ (null));
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const [status, setStatus] = useState(/** @type {string | null} */ (null));

  /** @param {ApiToken} t */
  async function revoke(t) {
    setError(null);
    try {
      await gql(REVOKE_TOKEN, { id: t.id });
      setAsking(null);
      setStatus(`Token ${t.name} revoked.`);
      onChanged();
    } catch (err) {
      setAsking(null);
      setError(describe(err));
    }
  }

  if (!tokens) return null;
  return html`<div>
    <${Note} kind="ok">${status}<//>
    <${Note} kind="error">${error}<//>
    ${tokens.length === 0
      ? html`<p>No API tokens.</p>`
      : html`<table class="table tokens-table">
          <thead><tr><th scope="col">Name</th><th scope="col">Starts with</th><th scope="col">Created</th>
            <th scope="col">Last used</th><th scope="col">Expires</th><th scope="col">Actions</th></tr></thead>
          <tbody>
            ${tokens.map((t) => html`<tr key=${t.id} data-token=${t.name}>
              <td data-label="Name"><strong>${t.name}</strong></td>
              <td data-label="Starts with"><code>${t.prefix}…</code></td>
              <td data-label="Created"><time datetime=${t.createdAt}>${formatDate(t.createdAt)}</time></td>
              <td data-label="Last used">${t.lastUsedAt ? html`<time datetime=${t.lastUsedAt} title=${formatDate(t.lastUsedAt)}>${relative(t.lastUsedAt)}</time>` : 'Never'}</td>
              <td data-label="Expires">${t.expiresAt
                ? html`<time datetime=${t.expiresAt} title=${formatDate(t.expiresAt)}>${Date.parse(t.expiresAt) <= Date.now() ? 'Expired' : relative(t.expiresAt)}</time>`
                : 'Never'}</td>
              <td data-label="Actions">${asking?.id === t.id
                ? html`<${Confirm} question=${`Revoke ${t.name}? Scripts using it stop working.`} yes="Yes, revoke"
                    no="Keep it" onYes=${() => revoke(t)} onNo=${() => setAsking(null)} />`
                : html`<button type="button" class="danger" aria-label=${`Revoke token ${t.name}`}
                    onClick=${() => { setStatus(null); setAsking(t); }}>Revoke</button>`}</td>
            </tr>`)}
          </tbody>
        </table>`}
  </div>`;
}
