// The user app at `/`: log in, upload, the gallery, one image's page, the
// account page (password, sessions, API tokens).
// Routes (location hash): "#/" the gallery, "#/image/<id>" an image,
// "#/account" the account page.
import { checkSession, logout, watchSession } from '../account.js';
import { LoginForm } from '../login.js';
import { html, render, Header, useEffect, useRoute, useSession } from '../ui.js';
import { Gallery } from './gallery.js';
import { ImagePage } from './image.js';
import { AccountPage } from './account.js';

function App() {
  const s = useSession();
  const route = useRoute();
  // A stored session may be stale (plan changed, user gone): ask once per
  // sign-in; UNAUTHENTICATED signs the page out in api.js.
  const token = s?.token;
  useEffect(() => {
    if (token) checkSession();
  }, [token]);

  if (!s) return html`<${LoginForm} heading="Log in to image-vault" />`;
  const nav = [
    { href: '#/', label: 'Gallery', current: route[0] !== 'account' },
    { href: '#/account', label: 'Account', current: route[0] === 'account' },
  ];
  if (s.user.isAdmin) nav.push({ href: '/admin', label: 'Administration', current: false });
  let page;
  if (route[0] === 'image' && route[1]) page = html`<${ImagePage} id=${route[1]} user=${s.user} />`;
  else if (route[0] === 'account') page = html`<${AccountPage} user=${s.user} />`;
  else page = html`<${Gallery} user=${s.user} />`;
  return html`<${Header} title="Gallery" home="#/" user=${s.user} onLogout=${logout} nav=${nav} />${page}`;
}

const root = document.getElementById('app');
if (root) {
  watchSession();
  root.textContent = '';
  render(html`<${App} />`, root);
}
