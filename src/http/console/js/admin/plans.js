// Plans: the list, creating and editing (heights as a list to add to and
// remove from, both flags, the thumbnail format), deleting (the refusal's
// reason shown while users hold the plan).
import { gql } from '../api.js';
import { describe } from '../errors.js';
import { html, Note, useEffect, useRef, useState, useTitle, useFocusHeading } from '../ui.js';
import { PLAN_FIELDS } from '../account.js';
import { usePlanUserCounts } from './plan-counts.js';

/** @typedef {import('../session.js').Plan} Plan */
/**
 * @typedef {{ name: string, thumbnailHeights: number[], originalLink: boolean, expiringLinks: boolean, thumbnailFormat: string,
 *   maxImages: number | null, maxStorageMib: number | null, maxUploadsPerHour: number | null }} PlanInput
 */

const FIELDS = PLAN_FIELDS;

/** "100 images, 500 MiB, 20 uploads an hour", or "No limits". @param {Plan} p */
function quotaWords(p) {
  const parts = [];
  if (p.maxImages != null) parts.push(`${p.maxImages} image${p.maxImages === 1 ? '' : 's'}`);
  if (p.maxStorageMib != null) parts.push(`${p.maxStorageMib} MiB`);
  if (p.maxUploadsPerHour != null) parts.push(`${p.maxUploadsPerHour} upload${p.maxUploadsPerHour === 1 ? '' : 's'} an hour`);
  return parts.length ? parts.join(', ') : 'No limits';
}
const PLANS = `query Plans { plans { ${FIELDS} } }`;
const CREATE = `mutation CreatePlan($input: PlanInput!) { createPlan(input: $input) { ${FIELDS} } }`;
const UPDATE = `mutation UpdatePlan($id: ID!, $input: PlanInput!) { updatePlan(id: $id, input: $input) { ${FIELDS} } }`;
const DELETE = `mutation DeletePlan($id: ID!) { deletePlan(id: $id) }`;

/** @type {{ key: 'maxImages' | 'maxStorageMib' | 'maxUploadsPerHour', label: string }[]} */
const QUOTAS = [
  { key: 'maxImages', label: 'Most images' },
  { key: 'maxStorageMib', label: 'Most storage (MiB)' },
  { key: 'maxUploadsPerHour', label: 'Most uploads an hour' },
];

const FORMATS = [
  { value: 'ORIGINAL', label: "JPEG, or PNG for transparent images" },
  { value: 'WEBP', label: 'WebP (smaller)' },
];

export function PlansPage() {
  useTitle('Plans');
  // A new page: the keyboard focus (and a screen reader) starts at its heading.
  const heading = useFocusHeading();
  const [plans, setPlans] = useState(/** @type {Plan[]} */ ([]));
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const [status, setStatus] = useState(/** @type {string | null} */ (null));
  // null: no editor; 'new'; or the plan being edited.
  const [editing, setEditing] = useState(/** @type {Plan | 'new' | null} */ (null));
  const [deleting, setDeleting] = useState(/** @type {Plan | null} */ (null));
  // The question takes the keyboard focus, on its safe answer.
  const keepButton = useRef(/** @type {HTMLButtonElement | null} */ (null));
  useEffect(() => {
    if (deleting) keepButton.current?.focus();
  }, [deleting]);

  const [countsTick, setCountsTick] = useState(0);
  const counts = usePlanUserCounts(countsTick);

  async function load() {
    setCountsTick((n) => n + 1);
    setLoading(true);
    try {
      setPlans((await gql(PLANS)).plans);
    } catch (err) {
      setError(describe(err));
    } finally {
      setLoading(false);
    }
  }
  useEffect(() => {
    load();
  }, []);

  /** @param {Plan} plan */
  async function remove(plan) {
    setError(null);
    setStatus(null);
    try {
      await gql(DELETE, { id: plan.id });
      setDeleting(null);
      setStatus(`Deleted plan ${plan.name}.`);
      load();
    } catch (err) {
      setDeleting(null);
      setError(`Plan ${plan.name} was not deleted. ${describe(err)}`);
    }
  }

  return html`<main id="main" class="page">
    <h1 tabindex="-1" ref=${heading}>Plans</h1>
    <${Note} kind="ok">${status}<//>
    <${Note} kind="error">${error}<//>
    ${editing
      ? html`<${PlanEditor} plan=${editing === 'new' ? null : editing}
          onCancel=${() => setEditing(null)}
          onSaved=${(/** @type {Plan} */ p, /** @type {boolean} */ created) => {
            setEditing(null);
            setPlans((old) => (created ? [...old, p] : old.map((x) => (x.id === p.id ? p : x))));
            setStatus(`${created ? 'Created' : 'Saved'} plan ${p.name}.`);
            load();
          }} />`
      : html`<p><button type="button" onClick=${() => { setStatus(null); setError(null); setEditing('new'); }}>New plan…</button></p>`}
    <section aria-labelledby="plans-heading">
      <h2 id="plans-heading">All plans</h2>
      <p class="hint">${counts ? 'Users: how many hold the plan.' : 'Who holds a plan shows in the users list.'} Quotas: empty is no limit.</p>
      <table class="table plans-table" aria-busy=${loading ? 'true' : 'false'}>
        <thead><tr><th scope="col">Name</th><th scope="col">Thumbnail heights</th><th scope="col">Original</th>
          <th scope="col">Expiring links</th><th scope="col">Format</th><th scope="col">Quotas</th>
          ${counts && html`<th scope="col">Users</th>`}<th scope="col">Actions</th></tr></thead>
        <tbody>
          ${plans.map((p) => html`<tr key=${p.id} data-plan=${p.name}>
            <td data-label="Name"><strong>${p.name}</strong></td>
            <td data-label="Thumbnail heights">${p.thumbnailHeights.length ? p.thumbnailHeights.map((h) => `${h} px`).join(', ') : 'none'}</td>
            <td data-label="Original">${p.originalLink ? 'Yes' : 'No'}</td>
            <td data-label="Expiring links">${p.expiringLinks ? 'Yes' : 'No'}</td>
            <td data-label="Format">${p.thumbnailFormat === 'WEBP' ? 'WebP' : 'JPEG or PNG'}</td>
            <td data-label="Quotas">${quotaWords(p)}</td>
            ${counts && html`<td data-label="Users">${counts.get(p.id) ?? '?'}</td>`}
            <td data-label="Actions">
              ${deleting?.id === p.id
                ? html`<span class="confirm" role="group" aria-label=${`Delete plan ${p.name}?`}>
                    <span>Delete ${p.name}?</span>
                    <button type="button" class="danger" onClick=${() => remove(p)}>Yes, delete</button>
                    <button type="button" class="secondary" ref=${keepButton} onClick=${() => setDeleting(null)}>Keep</button>
                  </span>`
                : html`<span class="row-form">
                    <button type="button" class="secondary" aria-label=${`Edit plan ${p.name}`}
                      onClick=${() => { setStatus(null); setError(null); setEditing(p); }}>Edit</button>
                    <button type="button" class="danger" aria-label=${`Delete plan ${p.name}`}
                      onClick=${() => { setStatus(null); setError(null); setDeleting(p); }}>Delete</button>
                  </span>`}
            </td>
          </tr>`)}
        </tbody>
      </table>
    </section>
  </main>`;
}

/** @param {{ plan: Plan | null, onCancel: () => void, onSaved: (p: Plan, created: boolean) => void }} props */
function PlanEditor({ plan, onCancel, onSaved }) {
  const [name, setName] = useState(plan?.name ?? '');
  const [heights, setHeights] = useState(/** @type {number[]} */ (plan?.thumbnailHeights ?? []));
  const [height, setHeight] = useState('');
  const [originalLink, setOriginalLink] = useState(plan?.originalLink ?? false);
  const [expiringLinks, setExpiringLinks] = useState(plan?.expiringLinks ?? false);
  const [format, setFormat] = useState(plan?.thumbnailFormat ?? 'ORIGINAL');
  const [quotas, setQuotas] = useState({
    maxImages: plan?.maxImages == null ? '' : String(plan.maxImages),
    maxStorageMib: plan?.maxStorageMib == null ? '' : String(plan.maxStorageMib),
    maxUploadsPerHour: plan?.maxUploadsPerHour == null ? '' : String(plan.maxUploadsPerHour),
  });
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const [busy, setBusy] = useState(false);
  const heading = useRef(/** @type {HTMLHeadingElement | null} */ (null));
  useEffect(() => heading.current?.focus(), []);

  function addHeight() {
    const h = Number(height);
    if (!Number.isInteger(h) || h < 1) {
      setError('A height is a whole number of pixels.');
      return;
    }
    setError(null);
    if (!heights.includes(h)) setHeights([...heights, h].sort((a, b) => a - b));
    setHeight('');
  }

  /** @param {SubmitEvent} e */
  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    /** @param {string} v */
    const quota = (v) => (v.trim() === '' ? null : Number(v));
    /** @type {PlanInput} */
    const input = {
      name, thumbnailHeights: heights, originalLink, expiringLinks, thumbnailFormat: format,
      maxImages: quota(quotas.maxImages), maxStorageMib: quota(quotas.maxStorageMib), maxUploadsPerHour: quota(quotas.maxUploadsPerHour),
    };
    try {
      const saved = plan
        ? (await gql(UPDATE, { id: plan.id, input })).updatePlan
        : (await gql(CREATE, { input })).createPlan;
      onSaved(saved, !plan);
    } catch (err) {
      setError(describe(err));
      setBusy(false);
    }
  }

  const title = plan ? `Edit plan ${plan.name}` : 'New plan';
  return html`<section class="panel" aria-labelledby="plan-editor-heading">
    <h2 id="plan-editor-heading" tabindex="-1" ref=${heading}>${title}</h2>
    <form class="form-grid" onSubmit=${submit}>
      <label for="plan-name">Name</label>
      <input id="plan-name" required maxlength="64" value=${name} onInput=${(/** @type {any} */ e) => setName(e.currentTarget.value)} />
      <fieldset class="grid-wide">
        <legend>Thumbnail heights</legend>
        ${heights.length === 0
          ? html`<p class="hint">No heights yet: users of this plan get no thumbnails.</p>`
          : html`<ul class="chips" aria-label="Heights">
              ${heights.map((h) => html`<li class="chip"><span>${h} px</span>
                <button type="button" class="chip-remove"
                  onClick=${() => setHeights(heights.filter((x) => x !== h))}><span aria-hidden="true">×</span><span
                  class="visually-hidden">Remove ${h} px</span></button></li>`)}
            </ul>`}
        <span class="row-form">
          <label for="plan-height">Height in pixels</label>
          <input id="plan-height" type="number" min="16" max="4096" step="1" inputmode="numeric" value=${height}
            onInput=${(/** @type {any} */ e) => setHeight(e.currentTarget.value)}
            onKeyDown=${(/** @type {KeyboardEvent} */ e) => { if (e.key === 'Enter') { e.preventDefault(); addHeight(); } }} />
          <button type="button" class="secondary" onClick=${addHeight}>Add height</button>
        </span>
      </fieldset>
      <span class="check grid-wide">
        <input id="plan-original" type="checkbox" checked=${originalLink} onChange=${(/** @type {any} */ e) => setOriginalLink(e.currentTarget.checked)} />
        <label for="plan-original">Users see a link to the original</label>
      </span>
      <span class="check grid-wide">
        <input id="plan-expiring" type="checkbox" checked=${expiringLinks} onChange=${(/** @type {any} */ e) => setExpiringLinks(e.currentTarget.checked)} />
        <label for="plan-expiring">Users may create expiring links</label>
      </span>
      <label for="plan-format">Thumbnail format</label>
      <select id="plan-format" value=${format} onChange=${(/** @type {any} */ e) => setFormat(e.currentTarget.value)}>
        ${FORMATS.map((f) => html`<option value=${f.value}>${f.label}</option>`)}
      </select>
      <fieldset class="grid-wide">
        <legend>Quotas (leave empty for no limit)</legend>
        <span class="form-grid">
          ${QUOTAS.map((q) => html`<label for=${`plan-${q.key}`}>${q.label}</label>
            <input id=${`plan-${q.key}`} type="number" min="0" step="1" inputmode="numeric" value=${quotas[q.key]}
              onInput=${(/** @type {any} */ e) => {
                const value = e.currentTarget.value;
                setQuotas((old) => ({ ...old, [q.key]: value }));
              }} />`)}
        </span>
      </fieldset>
      ${plan && html`<p class="hint grid-wide">Changing the heights makes the new thumbnails for every holder's images; the format applies to thumbnails made from now on.</p>`}
      <span class="row-form grid-wide">
        <button type="submit" disabled=${busy}>${plan ? 'Save plan' : 'Create plan'}</button>
        <button type="button" class="secondary" onClick=${onCancel}>Cancel</button>
      </span>
    </form>
    <${Note} kind="error">${error}<//>
  </section>`;
}
