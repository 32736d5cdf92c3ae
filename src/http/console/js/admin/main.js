// The administration app at `/admin`. Routes (location hash): "#/users"
// (the default), "#/plans", and the sections of ./pending.js once the API
// behind them exists. Every action is authorized by the API; an account that
// is not an administrator is told so here, and refused there.
import { checkSession, logout, watchSession } from '../account.js';
import { LoginForm } from '../login.js';
import { html, render, Header, useEffect, useRoute, useSession, useTitle } from '../ui.js';
import { PlansPage } from './plans.js';
import { UsersPage } from './users.js';
import { SECTIONS } from './pending.js';

function App() {
  const s = useSession();
  const route = useRoute();
  // A stored session may be stale (no longer an administrator, user gone).
  const token = s?.token;
  useEffect(() => {
    if (token) checkSession();
  }, [token]);
  if (!s) return html`<${LoginForm} heading="image-vault administration" />`;
  if (!s.user.isAdmin) return html`<${Header} title="Administration" home="/admin" user=${s.user} onLogout=${logout} /><${NotAdmin} />`;
  const section = route[0] ?? 'users';
  const extra = SECTIONS.filter((x) => x.available);
  const nav = [
    { href: '#/users', label: 'Users', current: section === 'users' },
    { href: '#/plans', label: 'Plans', current: section === 'plans' },
    ...extra.map((x) => ({ href: `#/${x.route}`, label: x.label, current: section === x.route })),
    { href: '/', label: 'Your gallery', current: false },
  ];
  const pending = extra.find((x) => x.route === section);
  const page = section === 'plans'
    ? html`<${PlansPage} />`
    : pending ? html`<${pending.Page} />` : html`<${UsersPage} me=${s.user} />`;
  return html`<${Header} title="Administration" home="/admin" user=${s.user} onLogout=${logout} nav=${nav} />${page}`;
}

function NotAdmin() {
  useTitle('Not an administrator');
  return html`<main id="main" class="page">
    <h1>Not an administrator</h1>
    <p>This account cannot administer image-vault. <a href="/">Go to your gallery</a>, or log out and log in as an administrator.</p>
  </main>`;
}

const root = document.getElementById('app');
if (root) {
  watchSession();
  root.textContent = '';
  render(html`<${App} />`, root);
}
