// What a user holds against their plan's quotas: images, stored bytes and
// uploads this hour, each "n of max" (or "no limit"), with a bar where there
// is a limit. Shown above the gallery and on an administrator's user page.
import { html, formatBytes } from './ui.js';

export const USAGE_FIELDS = 'usage { images storedBytes uploadsThisHour }';

/**
 * @typedef {{ images: number, storedBytes: number, uploadsThisHour: number }} Usage
 * @typedef {{ maxImages?: number | null, maxStorageMib?: number | null, maxUploadsPerHour?: number | null }} Quotas
 */

/** @param {{ usage: Usage | null, plan: Quotas | null, label?: string }} props */
export function UsageSummary({ usage, plan, label = 'Usage' }) {
  if (!usage) return null;
  const rows = [
    { name: 'Images', used: usage.images, max: plan?.maxImages ?? null, show: (/** @type {number} */ n) => String(n) },
    {
      name: 'Storage',
      used: usage.storedBytes,
      max: plan?.maxStorageMib != null ? plan.maxStorageMib * 1024 * 1024 : null,
      show: (/** @type {number} */ n) => formatBytes(n),
    },
    { name: 'Uploads this hour', used: usage.uploadsThisHour, max: plan?.maxUploadsPerHour ?? null, show: (/** @type {number} */ n) => String(n) },
  ];
  return html`<dl class="usage" aria-label=${label}>
    ${rows.map((r) => html`<div class="usage-item" data-usage=${r.name}>
      <dt>${r.name}</dt>
      <dd>
        <span class="usage-words">${r.show(r.used)}${r.max === null ? ' (no limit)' : ` of ${r.show(r.max)}`}</span>
        ${r.max !== null && html`<meter min="0" max=${r.max} value=${Math.min(r.used, r.max)} low=${r.max * 0.8} high=${r.max * 0.95}
          optimum="0" aria-label=${`${r.name}: ${r.show(r.used)} of ${r.show(r.max)}`}></meter>`}
      </dd>
    </div>`)}
  </dl>`;
}
