// The administration app at `/admin`. Routes (location hash): "#/users"
// (the default), "#/users/<id>" (one user), "#/plans", "#/images[/<userId>]",
// "#/operations", "#/audit". Every action is authorized by the API; an
// account that is not an administrator is told so here, and refused there.
import { checkSession, logout, watchSession } from '../account.js';
import { LoginForm } from '../login.js';
import { html, render, Header, useEffect, useRoute, useSession, useTitle } from '../ui.js';
import { PlansPage } from './plans.js';
import { UsersPage } from './users.js';
import { UserPage } from './user.js';
import { ImagesPage } from './images.js';
import { OperationsPage } from './operations.js';
import { AuditPage } from './audit.js';

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
  const nav = [
    { href: '#/users', label: 'Users', current: section === 'users' },
    { href: '#/plans', label: 'Plans', current: section === 'plans' },
    { href: '#/images', label: 'Images', current: section === 'images' },
    { href: '#/operations', label: 'Operations', current: section === 'operations' },
    { href: '#/audit', label: 'Audit log', current: section === 'audit' },
    { href: '/', label: 'Your gallery', current: false },
  ];
  let page;
  if (section === 'plans') page = html`<${PlansPage} />`;
  else if (section === 'images') page = html`<${ImagesPage} userId=${route[1]} />`;
  else if (section === 'operations') page = html`<${OperationsPage} />`;
  else if (section === 'audit') page = html`<${AuditPage} />`;
  else if (section === 'users' && route[1]) page = html`<${UserPage} key=${route[1]} id=${route[1]} me=${s.user} />`;
  else page = html`<${UsersPage} me=${s.user} />`;
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
