// report/gallery.ts: index.html for a folder run — one card per image linking its report.html, with the first
// text's overlay as a thumbnail (a relative link to the file beside it: this page is an index, not a report),
// each text's score, its warnings, and the files that failed with why.

import { escapeHtml, page } from './html.js';

/** One explained image of a folder run. */
export interface GalleryEntry {
  /** The image as the user gave it. */
  image: string;
  /** Its sub-folder of the output (relative). */
  dir: string;
  /** The thumbnail's path relative to the output, e.g. "cat/0-a-cat/overlay.png". */
  thumbnail: string;
  texts: { text: string; score: number }[];
  warnings: string[];
}

// The last part of a path, for a card's title (the whole path is its tooltip).
function fileName(path: string): string {
  return path.split(/[\\/]/).pop() || path;
}

/** The gallery page: `ok` images, then `failed` ones ({ image, error }). */
export function renderGallery(title: string, ok: GalleryEntry[], failed: { image: string; error: string }[]): string {
  const cards = ok.map((e) => `<div class="card"><a href="${escapeHtml(`${e.dir}/report.html`)}">` +
    `<img src="${escapeHtml(e.thumbnail)}" alt="${escapeHtml(e.image)}" style="max-width:210px;max-height:210px;image-rendering:auto"></a>` +
    `<div class="name"><a href="${escapeHtml(`${e.dir}/report.html`)}" title="${escapeHtml(e.image)}">${escapeHtml(fileName(e.image))}</a></div>` +
    `<div>${e.texts.map((t) => `“${escapeHtml(t.text)}” ${t.score.toPrecision(4)}`).join('<br>')}</div>` +
    (e.warnings.length ? `<details class="warn"><summary>${e.warnings.length} warning${e.warnings.length > 1 ? 's' : ''}</summary>` +
      `${e.warnings.map(escapeHtml).join('<br>')}</details>` : '') + '</div>').join('');
  const bad = failed.map((f) => `<div class="card failed"><b class="name" title="${escapeHtml(f.image)}">${escapeHtml(fileName(f.image))}</b>` +
    `<div>not explained: ${escapeHtml(f.error)}</div></div>`).join('');
  return page(title, `<h1>${escapeHtml(title)}</h1><p>${ok.length} image${ok.length === 1 ? '' : 's'} explained` +
    `${failed.length ? `, ${failed.length} failed` : ''}; each card links its report.</p><div class="gallery">${cards}${bad}</div>`);
}
