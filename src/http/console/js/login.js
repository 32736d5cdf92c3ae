// The login form both apps show when no one is signed in.
import { gql } from './api.js';
import { describe } from './errors.js';
import { signIn, signOutReason } from './session.js';
import { html, Note, useState, useEffect, useRef, useTitle } from './ui.js';

const LOGIN = `mutation Login($username: String!, $password: String!) {
  login(username: $username, password: $password) {
    token expiresAt
    user { id username isAdmin createdAt plan { id name thumbnailHeights originalLink expiringLinks thumbnailFormat } }
  }
}`;

/** @param {{ heading: string }} props */
export function LoginForm({ heading }) {
  useTitle('Log in');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const [busy, setBusy] = useState(false);
  const first = useRef(/** @type {HTMLInputElement | null} */ (null));
  const reason = signOutReason();
  useEffect(() => first.current?.focus(), []);

  /** @param {SubmitEvent} e */
  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const { login } = await gql(LOGIN, { username, password });
      signIn(login);
    } catch (err) {
      setError(describe(err, { during: 'login' }));
      setBusy(false);
    }
  }

  return html`<main class="login" id="main">
    <h1>${heading}</h1>
    ${reason && html`<${Note} kind="info">${reason}<//>`}
    <form onSubmit=${submit} aria-describedby=${error ? 'login-error' : undefined}>
      <label for="login-username">Username</label>
      <input id="login-username" ref=${first} name="username" autocomplete="username" required
        value=${username} onInput=${(/** @type {any} */ e) => setUsername(e.currentTarget.value)} />
      <label for="login-password">Password</label>
      <input id="login-password" type="password" name="password" autocomplete="current-password" required
        value=${password} onInput=${(/** @type {any} */ e) => setPassword(e.currentTarget.value)} />
      <button type="submit" disabled=${busy}>${busy ? 'Logging in…' : 'Log in'}</button>
      <${Note} kind="error" id="login-error">${error}<//>
    </form>
  </main>`;
}
