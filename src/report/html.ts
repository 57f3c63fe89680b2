// report/html.ts: the pieces of a self-contained HTML page: escaping, PNGs as base64 data URIs, a step's section
// (its number, a one-line why, the source file that computes it), and the page shell with its inline CSS.
// Nothing here fetches anything: no external script, style sheet, font or image.

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Text for HTML content or a double-quoted attribute. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** RFC 4648 base64 of bytes (no line breaks), without Node's Buffer so that it runs anywhere. */
export function base64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += BASE64[(n >> 18) & 63] + BASE64[(n >> 12) & 63];
    out += i + 1 < bytes.length ? BASE64[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.length ? BASE64[n & 63] : '=';
  }
  return out;
}

/** An <img> of PNG bytes as a data URI, shown at width×height CSS pixels (pixelated when enlarged). */
export function pngImg(png: Uint8Array, alt: string, width: number, height: number, cls = ''): string {
  return `<img src="data:image/png;base64,${base64(png)}" alt="${escapeHtml(alt)}" width="${Math.round(width)}" ` +
    `height="${Math.round(height)}"${cls ? ` class="${cls}"` : ''}>`;
}

/** One algorithm step: "Step n — title", why it is done (one line), which source file does it, then its body. */
export function section(step: string, title: string, why: string, source: string, body: string, id = ''): string {
  return `<section${id ? ` id="${id}"` : ''}><h2><span class="step">${escapeHtml(step)}</span> ${escapeHtml(title)}</h2>` +
    `<p class="why">${why}</p><p class="src">computed in <code>${escapeHtml(source)}</code></p>${body}</section>`;
}

/** A figure: content over its caption. */
export function figure(content: string, caption: string, cls = ''): string {
  return `<figure${cls ? ` class="${cls}"` : ''}>${content}<figcaption>${caption}</figcaption></figure>`;
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;max-width:1180px;margin:0 auto;padding:16px 24px 48px;background:#fafafa}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:17px;margin:0 0 4px}h3{font-size:15px;margin:16px 0 6px}
section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:12px 16px;margin:14px 0}
.step{display:inline-block;background:#264653;color:#fff;border-radius:4px;padding:0 7px;margin-right:4px;font-size:13px}
.why{margin:2px 0}.src{margin:0 0 8px;color:#666;font-size:12px}code{font-size:12px;background:#f1f1f1;padding:0 3px;border-radius:3px}
figure{display:inline-block;vertical-align:top;margin:4px 14px 8px 0}figcaption{font-size:12px;color:#444;max-width:320px}
img{image-rendering:pixelated;border:1px solid #ccc;background:#fff}
.row{display:flex;flex-wrap:wrap;gap:4px 10px;align-items:flex-start}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left}th{background:#f4f4f4}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.warn{background:#fff4e5;border:1px solid #f0a020;border-radius:6px;padding:8px 12px;margin:10px 0}
.ossms{display:flex;flex-wrap:wrap;gap:10px}
.ossm{border:1px solid #ccc;border-radius:5px;padding:6px;background:#fff}
.ossm.zero{background:#f3f3f3;border-style:dashed;opacity:.75}
.ossm .imgs{display:flex;gap:4px}.ossm .nums{font-size:12px;margin-top:4px;font-variant-numeric:tabular-nums}
.ossm .badge{display:inline-block;font-size:11px;border-radius:3px;padding:0 5px;background:#264653;color:#fff}
.ossm.zero .badge{background:#999}
.text-title{font-size:18px;margin:22px 0 0;border-bottom:2px solid #264653}
.gallery{display:flex;flex-wrap:wrap;gap:12px}.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px;width:230px}
.card.failed{border-color:#d33;background:#fff0f0}.card .name{overflow-wrap:anywhere}.card{overflow-wrap:anywhere}
`;

/** The whole page: a title and a body, with the inline style sheet. */
export function page(title: string, body: string): string {
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<title>${escapeHtml(title)}</title><style>${CSS}</style></head><body>${body}</body></html>\n`;
}
