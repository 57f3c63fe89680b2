// report/svg.ts: the report's plots as inline SVG strings (no script, no font file: the page's own font), each
// with labelled axes and its numbers: a colour bar, a sorted curve with its top part marked (α and the top-P
// channels), a bar chart with a cumulative line (the singular-value spectrum), horizontal bars (the softmax over
// texts, per-stage timings). Sizes are in CSS pixels; every text is escaped.

import { escapeHtml } from './html.js';

/** A number in a few significant digits, without exponent noise for ordinary magnitudes. */
export function fmt(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e4 || a < 1e-3) return x.toExponential(digits - 1);
  return Number(x.toPrecision(digits)).toString();
}

function svg(W: number, H: number, body: string, label: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" ` +
    `aria-label="${escapeHtml(label)}">${body}</svg>`;
}

function text(x: number, y: number, s: string, anchor = 'start', extra = ''): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" text-anchor="${anchor}" font-size="11" fill="#333"${extra}>${escapeHtml(s)}</text>`;
}

/** A horizontal colour bar: `stops` evenly from the left label's value to the right's. */
export function colorBar(stops: string[], left: string, right: string, caption: string, W = 240): string {
  const id = `bar-${stops.join('').replace(/#/g, '')}`; // from the colours alone: the same page every run
  const grad = stops.map((c, i) => `<stop offset="${((i / (stops.length - 1)) * 100).toFixed(1)}%" stop-color="${c}"/>`).join('');
  return svg(W, 40,
    `<defs><linearGradient id="${id}">${grad}</linearGradient></defs>` +
    `<rect x="0.5" y="14.5" width="${W - 1}" height="12" fill="url(#${id})" stroke="#666"/>` +
    text(0, 11, caption) + text(0, 38, left) + text(W, 38, right, 'end'), `colour bar: ${caption}`);
}

/**
 * values sorted descending as bars; the first `marked` drawn in orange (kept), the rest grey; a dashed line
 * after the marked ones. A zero line when the values change sign.
 */
export function sortedBars(values: ArrayLike<number>, marked: number, opts: { title: string; yLabel: string; markLabel: string }): string {
  const W = 520, H = 210, l = 56, r = 10, t = 34, b = 30;
  const n = values.length;
  let lo = 0, hi = 0;
  for (let i = 0; i < n; i++) { lo = Math.min(lo, values[i]); hi = Math.max(hi, values[i]); }
  if (hi === lo) hi = lo + 1;
  const y = (v: number) => t + ((hi - v) / (hi - lo)) * (H - t - b);
  const bw = (W - l - r) / n;
  let bars = '';
  for (let i = 0; i < n; i++) {
    const y0 = y(Math.max(values[i], 0)), y1 = y(Math.min(values[i], 0));
    bars += `<rect x="${(l + i * bw).toFixed(2)}" y="${y0.toFixed(2)}" width="${Math.max(bw - (bw > 3 ? 1 : 0), 0.6).toFixed(2)}" ` +
      `height="${Math.max(y1 - y0, 0.5).toFixed(2)}" fill="${i < marked ? '#e8890c' : '#9aa0a6'}"/>`;
  }
  const xm = l + marked * bw;
  const mark = marked < n
    ? `<line x1="${xm.toFixed(1)}" x2="${xm.toFixed(1)}" y1="${t}" y2="${H - b}" stroke="#333" stroke-dasharray="4 3"/>` + text(Math.min(xm + 4, W - 150), t + 12, opts.markLabel)
    : text(W - r, t + 12, opts.markLabel, 'end');
  const axes = `<line x1="${l}" x2="${W - r}" y1="${y(0).toFixed(1)}" y2="${y(0).toFixed(1)}" stroke="#555"/>` +
    `<line x1="${l}" x2="${l}" y1="${t}" y2="${H - b}" stroke="#555"/>` +
    text(l - 4, y(hi) + 4, fmt(hi), 'end') + text(l - 4, y(lo) + 4, fmt(lo), 'end') + text(l - 4, y(0) + 4, '0', 'end') +
    text(l, H - 8, `rank 1 … ${n}`) + text(8, 12, opts.yLabel);
  return svg(W, H, bars + axes + mark + text(W - r, 12, opts.title, 'end'), opts.title);
}

/** The singular values σ_q as bars labelled with each one's explained-variance share, and the cumulative share
 * as a line on a 0–100 % right axis. */
export function spectrum(singular: ArrayLike<number>, ratio: ArrayLike<number>): string {
  const W = 520, H = 226, l = 56, r = 44, t = 40, b = 34;
  const n = singular.length;
  let hi = 0;
  for (let i = 0; i < n; i++) hi = Math.max(hi, singular[i]);
  if (hi === 0) hi = 1;
  const bw = (W - l - r) / n;
  const y = (v: number) => t + (1 - v / hi) * (H - t - b);
  const yr = (p: number) => t + (1 - p) * (H - t - b);
  let body = '';
  let cum = 0;
  const pts: string[] = [];
  for (let i = 0; i < n; i++) {
    const x = l + i * bw;
    body += `<rect x="${(x + 2).toFixed(1)}" y="${y(singular[i]).toFixed(1)}" width="${(bw - 4).toFixed(1)}" height="${(H - b - y(singular[i])).toFixed(1)}" fill="#4c78a8"/>`;
    body += text(x + bw / 2, y(singular[i]) - 3, `${(ratio[i] * 100).toFixed(1)}%`, 'middle');
    body += text(x + bw / 2, H - b + 13, String(i), 'middle');
    cum += ratio[i];
    pts.push(`${(x + bw / 2).toFixed(1)},${yr(cum).toFixed(1)}`);
  }
  body += `<polyline points="${pts.join(' ')}" fill="none" stroke="#e45756" stroke-width="2"/>`;
  body += `<line x1="${l}" x2="${l}" y1="${t}" y2="${H - b}" stroke="#555"/><line x1="${l}" x2="${W - r}" y1="${H - b}" y2="${H - b}" stroke="#555"/>`;
  body += `<line x1="${W - r}" x2="${W - r}" y1="${t}" y2="${H - b}" stroke="#e45756"/>`;
  body += text(l - 4, t + 4, fmt(hi), 'end') + text(l - 4, H - b + 4, '0', 'end');
  body += text(W - r + 4, t + 4, '100%') + text(W - r + 4, H - b + 4, '0%');
  body += text(8, 12, 'singular value σ_q (bars; % = its share of the variance of X)');
  body += text(W - r, H - 4, `component q · cumulative share ${(cum * 100).toFixed(1)}% (red)`, 'end');
  return svg(W, H, body, 'singular-value spectrum');
}

/** Horizontal bars, one per row: label, bar of value/max, and the value's text. */
export function hbars(rows: { label: string; value: number; text: string; color?: string }[], title: string, W = 520): string {
  const rowH = 20, l = 190, t = 20;
  const H = t + rows.length * rowH + 6;
  let max = 0;
  for (const r of rows) max = Math.max(max, r.value);
  if (max <= 0) max = 1;
  let body = text(0, 12, title);
  rows.forEach((r, i) => {
    const yy = t + i * rowH;
    const label = r.label.length > 30 ? `${r.label.slice(0, 29)}…` : r.label;
    body += text(l - 6, yy + 13, label, 'end');
    body += `<rect x="${l}" y="${yy + 3}" width="${Math.max(((W - l - 80) * r.value) / max, 0.5).toFixed(1)}" height="${rowH - 6}" fill="${r.color ?? '#4c78a8'}"/>`;
    body += text(l + ((W - l - 80) * Math.max(r.value, 0)) / max + 6, yy + 13, r.text);
  });
  return svg(W, H, body, title);
}
