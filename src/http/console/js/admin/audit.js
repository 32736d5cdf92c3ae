// The audit log at "#/audit": every administrative change, newest first, a
// page at a time, with who made it, on what, and the values before and after.
import { gql } from '../api.js';
import { describe } from '../errors.js';
import { html, Note, Pager, formatDate, useEffect, useState, useTitle, useFocusHeading } from '../ui.js';

/**
 * @typedef {{ id: string, createdAt: string, actorName: string, action: string, targetType: string,
 *   targetName: string | null, before: unknown, after: unknown }} AuditEntry
 */

const PAGE = 25;
const AUDIT = `query Audit($first: Int!, $after: String) { auditLog(first: $first, after: $after) {
  pageInfo { hasNextPage endCursor } nodes { id createdAt actorName action targetType targetName before after } } }`;

/**
 * Words for the actions the server records, as [verb, preposition before
 * the target's name]; unknown actions are shown as they are.
 * @type {Record<string, [string, string]>}
 */
const ACTIONS = {
  'user.create': ['created user', ''],
  'user.update': ['changed user', ''],
  'user.disable': ['disabled user', ''],
  'user.enable': ['enabled user', ''],
  'user.delete': ['deleted user', ''],
  'user.password_reset': ['reset the password', 'of'],
  'user.password_change': ['changed the password', 'of'],
  'user.set_plan': ['changed the plan', 'of'],
  'plan.create': ['created plan', ''],
  'plan.update': ['changed plan', ''],
  'plan.delete': ['deleted plan', ''],
  'session.revoke': ['signed out a session', 'of'],
  'api_token.create': ['created the API token', ''],
  'api_token.revoke': ['revoked the API token', ''],
  'image.delete': ['deleted image', ''],
  'job.retry': ['retried job', ''],
};

/** "reset the password of carol". @param {AuditEntry} e */
function what(e) {
  const [verb, prep] = ACTIONS[e.action] ?? [e.action, ''];
  if (!e.targetName) return html`${verb}`;
  return html`${verb}${prep ? ` ${prep}` : ''} <strong>${e.targetName}</strong>`;
}

/** @param {unknown} v */
function show(v) {
  if (v === null || v === undefined) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** What changed between `before` and `after`, as "field: old → new" lines. @param {AuditEntry} e */
function changes(e) {
  const b = /** @type {Record<string, unknown>} */ (e.before && typeof e.before === 'object' ? e.before : {});
  const a = /** @type {Record<string, unknown>} */ (e.after && typeof e.after === 'object' ? e.after : {});
  const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])];
  return keys
    .filter((k) => show(b[k]) !== show(a[k]))
    .map((k) => (k in b && k in a ? `${k}: ${show(b[k])} → ${show(a[k])}` : k in a ? `${k}: ${show(a[k])}` : `${k}: ${show(b[k])} (removed)`));
}

export function AuditPage() {
  useTitle('Audit log');
  const heading = useFocusHeading();
  const [entries, setEntries] = useState(/** @type {AuditEntry[]} */ ([]));
  const [cursors, setCursors] = useState(/** @type {(string | null)[]} */ ([null]));
  const [next, setNext] = useState(/** @type {string | null} */ (null));
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState(/** @type {string | null} */ (null));

  /** @param {(string | null)[]} stack */
  async function load(stack) {
    setLoading(true);
    setError(null);
    try {
      const { auditLog } = await gql(AUDIT, { first: PAGE, after: stack[stack.length - 1] });
      setEntries(auditLog.nodes);
      setNext(auditLog.pageInfo.hasNextPage ? auditLog.pageInfo.endCursor : null);
      setCursors(stack);
    } catch (err) {
      setError(describe(err));
    } finally {
      setLoading(false);
    }
  }
  useEffect(() => {
    load([null]);
  }, []);

  return html`<main id="main" class="page">
    <h1 tabindex="-1" ref=${heading}>Audit log</h1>
    <p class="hint">Every change made by administrators (and <code>cli</code>, the command line), newest first. Passwords and tokens are never recorded.</p>
    <p><button type="button" class="secondary" disabled=${loading} onClick=${() => load([null])}>Show the newest</button></p>
    <${Note} kind="error">${error}<//>
    <table class="table audit-table" aria-busy=${loading ? 'true' : 'false'}>
      <caption class="visually-hidden">Audit log, newest first, page ${cursors.length}</caption>
      <thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">What</th><th scope="col">Changes</th></tr></thead>
      <tbody>
        ${entries.map((e) => {
          const lines = changes(e);
          return html`<tr key=${e.id} data-action=${e.action}>
            <td data-label="When"><time datetime=${e.createdAt}>${formatDate(e.createdAt)}</time></td>
            <td data-label="Who">${e.actorName}</td>
            <td data-label="What">${what(e)} <span class="muted">(${e.action})</span></td>
            <td data-label="Changes">${lines.length ? html`<p class="json">${lines.join('\n')}</p>` : html`<span class="muted">—</span>`}</td>
          </tr>`;
        })}
      </tbody>
    </table>
    ${!loading && entries.length === 0 && !error && html`<p>Nothing recorded yet.</p>`}
    <${Pager} label="Pages of the audit log" cursors=${cursors} next=${next} loading=${loading} onPage=${load} />
  </main>`;
}
