// report/components.ts: components.png — the Q masks m_q (each min-max normalised, JET) in a grid, sorted by
// weight (largest first), each tile under a label "#q w=0.416" in the bitmap font (report/font.ts) giving its
// PCA index q and weight; a component of weight 0 (not part of the final map) is faded grey and labelled grey.
// masks (Q, S, S) in [0, 1]; weights (Q).

import { applyJet } from '../image/colormap.js';
import type { RgbImage } from '../image/decode.js';
import type { Float } from '../tensor/tensor.js';
import { CELL_H, drawText } from './font.js';
import { blank, blit } from './raster.js';

/** Component indices by weight, largest first; equal weights keep PCA order (index ascending). */
export function weightOrder(weights: Float): number[] {
  return Array.from({ length: weights.length }, (_, q) => q).sort((a, b) => weights[b] - weights[a] || a - b);
}

/** The label of component q: its index and its weight to 3 decimals. */
export function componentLabel(q: number, w: number): string {
  return `#${q} w=${w.toFixed(3)}`;
}

/** The grid image: up to 5 tiles a row, 2-pixel gutters, a label strip above each tile. */
export function componentsImage(masks: Float, weights: Float, S: number): RgbImage {
  const Q = weights.length;
  const order = weightOrder(weights);
  const cols = Math.min(Q, 5), rows = Math.ceil(Q / cols);
  const scale = Math.max(1, Math.floor(S / 64)); // the label fits the tile: 10 cells of 6 px at 64 px
  const strip = CELL_H * scale + 3;
  const gap = 2;
  const W = cols * S + (cols - 1) * gap;
  const H = rows * (S + strip) + (rows - 1) * gap;
  const img = blank(W, H);
  order.forEach((q, k) => {
    const x0 = (k % cols) * (S + gap);
    const y0 = Math.floor(k / cols) * (S + strip + gap);
    const tile = applyJet(masks.subarray(q * S * S, (q + 1) * S * S), S, S);
    const zero = weights[q] === 0;
    if (zero) for (let i = 0; i < tile.data.length; i++) tile.data[i] = Math.round(tile.data[i] * 0.35 + 200 * 0.65);
    drawText(img, componentLabel(q, weights[q]), x0 + 1, y0 + 2, zero ? [150, 150, 150] : [0, 0, 0], scale);
    blit(img, tile, x0, y0 + strip);
  });
  return img;
}
