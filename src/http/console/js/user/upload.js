// The upload panel: drop files on it or choose them, several at once; each
// file gets its own progress bar and its own outcome in words.
import { upload, limits } from '../api.js';
import { describe } from '../errors.js';
import { html, formatBytes, useRef, useState } from '../ui.js';

/** @typedef {import('../api.js').Image} Image */
/**
 * @typedef {{ key: number, name: string, size: number, sent: number,
 *   state: 'waiting' | 'sending' | 'checking' | 'done' | 'refused', error: string | null, direct: boolean }} Item
 */

/** Files sent at the same time; the rest wait their turn. */
const PARALLEL = 2;

const EXPIRY_CHOICES = [
  { value: '', label: 'Never (keep until I delete them)' },
  { value: String(3600), label: 'After 1 hour' },
  { value: String(86400), label: 'After 1 day' },
  { value: String(7 * 86400), label: 'After 1 week' },
  { value: String(30 * 86400), label: 'After 30 days' },
];

let nextKey = 1;

/** @param {{ onUploaded: (image: Image) => void }} props */
export function UploadPanel({ onUploaded }) {
  const [items, setItems] = useState(/** @type {Item[]} */ ([]));
  const [over, setOver] = useState(false);
  const [expiresIn, setExpiresIn] = useState('');
  const input = useRef(/** @type {HTMLInputElement | null} */ (null));
  const queue = useRef(/** @type {{ key: number, file: File, expiresIn: number | null }[]} */ ([]));
  const running = useRef(0);

  /** @param {number} key @param {Partial<Item>} change */
  function patch(key, change) {
    setItems((old) => old.map((i) => (i.key === key ? { ...i, ...change } : i)));
  }

  function pump() {
    while (running.current < PARALLEL && queue.current.length > 0) {
      const job = queue.current.shift();
      if (!job) break;
      running.current += 1;
      const { key, file } = job;
      patch(key, { state: 'sending' });
      upload(file, {
        expiresIn: job.expiresIn,
        onProgress: (sent, total) => patch(key, { sent, size: total, state: sent >= total ? 'checking' : 'sending' }),
      })
        .then((image) => {
          patch(key, { state: 'done', sent: file.size });
          onUploaded(image);
        })
        .catch((err) => patch(key, { state: 'refused', error: describe(err, { during: 'upload' }) }))
        .finally(() => {
          running.current -= 1;
          pump();
        });
    }
  }

  /** @param {FileList | File[] | null} files */
  function add(files) {
    if (!files || files.length === 0) return;
    /** @type {Item[]} */
    const added = [];
    for (const file of Array.from(files)) {
      const key = nextKey++;
      const direct = file.size + (16 << 10) > limits.maxUploadBytes;
      added.push({ key, name: file.name, size: file.size, sent: 0, state: 'waiting', error: null, direct });
      queue.current.push({ key, file, expiresIn: expiresIn ? Number(expiresIn) : null });
    }
    setItems((old) => [...added, ...old.filter((i) => i.state !== 'done')]);
    pump();
  }

  /** @param {DragEvent} e */
  function onDrop(e) {
    e.preventDefault();
    setOver(false);
    add(e.dataTransfer?.files ?? null);
  }

  return html`<section class="upload" aria-labelledby="upload-heading">
    <h2 id="upload-heading">Upload</h2>
    <div class=${over ? 'drop over' : 'drop'} data-testid="drop-zone"
      onDragEnter=${(/** @type {DragEvent} */ e) => { e.preventDefault(); setOver(true); }}
      onDragOver=${(/** @type {DragEvent} */ e) => { e.preventDefault(); setOver(true); }}
      onDragLeave=${() => setOver(false)}
      onDrop=${onDrop}>
      <p>Drop images here (JPEG, PNG, WebP, GIF, BMP or TIFF; HEIC and AVIF where the server supports them), several at once, or</p>
      <button type="button" onClick=${() => input.current?.click()}>Choose files…</button>
      <input ref=${input} type="file" multiple accept="image/*" hidden id="upload-files" aria-label="Images to upload"
        onChange=${(/** @type {any} */ e) => { add(e.currentTarget.files); e.currentTarget.value = ''; }} />
    </div>
    <p class="field-inline">
      <label for="upload-expiry">Delete the uploaded images automatically</label>
      <select id="upload-expiry" value=${expiresIn} onChange=${(/** @type {any} */ e) => setExpiresIn(e.currentTarget.value)}>
        ${EXPIRY_CHOICES.map((c) => html`<option value=${c.value}>${c.label}</option>`)}
      </select>
    </p>
    <p class="hint">Files up to ${formatBytes(limits.maxUploadBytes)} are sent to the server; larger ones${limits.maxDirectUploadBytes ? ` (up to ${formatBytes(limits.maxDirectUploadBytes)})` : ''} go straight to storage.</p>
    ${items.length > 0 && html`<ul class="uploads" aria-label="Uploads">
      ${items.map((item) => html`<${UploadRow} key=${item.key} item=${item} />`)}
    </ul>`}
  </section>`;
}

/** @param {{ item: Item }} props */
function UploadRow({ item }) {
  const percent = item.size > 0 ? Math.round((100 * item.sent) / item.size) : 0;
  const words = {
    waiting: 'Waiting',
    sending: `Uploading${item.direct ? ' to storage' : ''}: ${percent}%`,
    checking: 'Checking the image…',
    done: 'Uploaded',
    refused: 'Refused',
  }[item.state];
  const id = `upload-${item.key}`;
  return html`<li class=${`upload-row upload-${item.state}`} data-state=${item.state} data-filename=${item.name}>
    <span class="upload-name" id=${`${id}-name`}>${item.name}</span>
    <span class="upload-size">${formatBytes(item.size)}</span>
    <progress max="100" value=${item.state === 'done' || item.state === 'checking' ? 100 : percent}
      aria-labelledby=${`${id}-name`} aria-describedby=${`${id}-status`}></progress>
    <span class="upload-status" id=${`${id}-status`}>${words}</span>
    ${item.error && html`<span class="upload-error" role="alert">${item.error}</span>`}
  </li>`;
}
