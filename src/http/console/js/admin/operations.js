// Operations at "#/operations": the job queue (queued, running, failed, the
// age of the oldest queued job), failed jobs with their errors and a retry
// action, and whether the database and storage are ready. On a server
// without this API it says so.
import { gql } from '../api.js';
import { describe, missingApi } from '../errors.js';
import { html, Note, formatDate, useEffect, useState, useTitle, useFocusHeading } from '../ui.js';

/**
 * @typedef {{ id: string, kind: string, attempts: number, lastError: string | null, createdAt: string }} FailedJob
 * @typedef {{ queued: number, running: number, failed: number, oldestQueuedSeconds: number, failedJobs: FailedJob[] }} Queue
 */

const OPERATIONS = `query Operations { queue { queued running failed oldestQueuedSeconds
  failedJobs(first: 20) { id kind attempts lastError createdAt } } readiness { database storage } }`;
const RETRY = `mutation Retry($id: ID!) { retryJob(id: $id) }`;

/** "42 s", "5 min", "3 h". @param {number | null} s */
function age(s) {
  if (!s) return 'none due';
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

/** @param {{ name: string, value: string }} props */
function Ready({ name, value }) {
  const ok = value === 'ok';
  return html`<li data-readiness=${name}>${name}: <span class=${ok ? 'ready-ok' : 'ready-bad'}>${ok ? 'ready' : value === 'unavailable' ? 'unavailable' : value}</span></li>`;
}

export function OperationsPage() {
  useTitle('Operations');
  const heading = useFocusHeading();
  const [data, setData] = useState(/** @type {{ queue: Queue, readiness: { database: string, storage: string } } | null} */ (null));
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const [unsupported, setUnsupported] = useState(false);
  const [status, setStatus] = useState(/** @type {string | null} */ (null));
  const [checkedAt, setCheckedAt] = useState(/** @type {string | null} */ (null));

  async function load() {
    setLoading(true);
    try {
      setData(await gql(OPERATIONS));
      setCheckedAt(new Date().toISOString());
      setError(null);
    } catch (err) {
      if (missingApi(err)) setUnsupported(true);
      else setError(describe(err));
    } finally {
      setLoading(false);
    }
  }
  useEffect(() => {
    load();
  }, []);

  /** @param {FailedJob} job */
  async function retry(job) {
    setStatus(null);
    setError(null);
    try {
      await gql(RETRY, { id: job.id });
      setStatus(`Job ${job.kind} (${job.id}) queued again.`);
      load();
    } catch (err) {
      setError(`Job ${job.id} was not retried. ${describe(err)}`);
    }
  }

  if (unsupported) {
    return html`<main id="main" class="page"><h1 tabindex="-1" ref=${heading}>Operations</h1>
      <${Note} kind="info">This server does not offer the queue and readiness API yet.<//></main>`;
  }
  const q = data?.queue;
  return html`<main id="main" class="page">
    <h1 tabindex="-1" ref=${heading}>Operations</h1>
    <p class="row-form"><button type="button" class="secondary" disabled=${loading} onClick=${load}>Check again</button>
      ${checkedAt && html`<span class="hint">Checked <time datetime=${checkedAt}>${formatDate(checkedAt)}</time></span>`}</p>
    <${Note} kind="ok">${status}<//>
    <${Note} kind="error">${error}<//>
    ${data && html`<section aria-labelledby="ready-heading">
      <h2 id="ready-heading">Readiness</h2>
      <ul class="readiness"><${Ready} name="Database" value=${data.readiness.database} /><${Ready} name="Storage" value=${data.readiness.storage} /></ul>
    </section>`}
    ${q && html`<section aria-labelledby="queue-heading">
      <h2 id="queue-heading">Job queue</h2>
      <dl class="stats">
        <div data-stat="queued"><dt>Queued</dt><dd>${q.queued}</dd></div>
        <div data-stat="running"><dt>Running</dt><dd>${q.running}</dd></div>
        <div data-stat="failed"><dt>Failed</dt><dd>${q.failed}</dd></div>
        <div data-stat="oldest"><dt>Oldest due job waiting</dt><dd>${age(q.oldestQueuedSeconds)}</dd></div>
      </dl>
      <h3>Failed jobs</h3>
      ${q.failedJobs.length === 0
        ? html`<p>No failed jobs.</p>`
        : html`<table class="table jobs-table">
            <thead><tr><th scope="col">Job</th><th scope="col">Created</th><th scope="col">Attempts</th><th scope="col">Last error</th><th scope="col">Actions</th></tr></thead>
            <tbody>${q.failedJobs.map((j) => html`<tr key=${j.id} data-job=${j.id}>
              <td data-label="Job"><strong>${j.kind}</strong> <span class="muted">${j.id}</span></td>
              <td data-label="Created"><time datetime=${j.createdAt}>${formatDate(j.createdAt)}</time></td>
              <td data-label="Attempts">${j.attempts}</td>
              <td data-label="Last error"><p class="json">${j.lastError ?? '—'}</p></td>
              <td data-label="Actions"><button type="button" class="secondary" aria-label=${`Retry job ${j.id}`} onClick=${() => retry(j)}>Retry</button></td>
            </tr>`)}</tbody>
          </table>`}
    </section>`}
  </main>`;
}
