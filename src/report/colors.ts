// report/colors.ts: the report's colour maps, one per meaning. Saliency and magnitudes in [0, 1] are OpenCV's JET
// (image/colormap.ts, as the anchor projects draw them); signed values (an OSSM before its ReLU) use a diverging
// blue–white–red map, symmetric about 0 so that white is exactly zero. Also the CSS colour stops that draw each
// map's colour bar. Maps are (H, W); images (H, W, 3) uint8 RGB.

import { applyJet, jetTable } from '../image/colormap.js';
import type { RgbImage } from '../image/decode.js';
import type { Float } from '../tensor/tensor.js';

// Moreland's "cool to warm" end points, through a near-white centre; linear in RGB between them.
const NEG = [59, 76, 192];
const MID = [245, 245, 245];
const POS = [180, 4, 38];

/** The diverging colour of t in [−1, 1] (clamped): blue for −1, white for 0, red for +1. */
export function divergingColor(t: number): [number, number, number] {
  const x = Math.max(-1, Math.min(1, Number.isFinite(t) ? t : 0));
  const [a, b, f] = x < 0 ? [MID, NEG, -x] : [MID, POS, x];
  return [0, 1, 2].map((c) => Math.round(a[c] + (b[c] - a[c]) * f)) as [number, number, number];
}

/** Signed values (H, W) as a diverging image, ±maxAbs at the ends (maxAbs 0: all white). */
export function applyDiverging(values: Float, H: number, W: number, maxAbs: number): RgbImage {
  const data = new Uint8Array(H * W * 3);
  for (let p = 0; p < H * W; p++) data.set(divergingColor(maxAbs > 0 ? values[p] / maxAbs : 0), p * 3);
  return { width: W, height: H, data };
}

/** Values (H, W) of any range as JET after min-max to [0, 1] (a constant map is all 0); returns the range too. */
export function jetOfRange(values: Float, H: number, W: number): { image: RgbImage; min: number; max: number } {
  let min = Infinity, max = -Infinity;
  for (let i = 0; i < H * W; i++) { min = Math.min(min, values[i]); max = Math.max(max, values[i]); }
  const unit = new Float64Array(H * W);
  for (let i = 0; i < H * W; i++) unit[i] = max > min ? (values[i] - min) / (max - min) : 0;
  return { image: applyJet(unit, H, W), min, max };
}

function hex(c: readonly number[]): string {
  return `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

/** JET as 9 CSS colour stops from 0 to 1 (for a colour bar). */
export function jetStops(): string[] {
  const t = jetTable();
  return Array.from({ length: 9 }, (_, i) => {
    const k = Math.round((i / 8) * 255);
    return hex([t[k * 3], t[k * 3 + 1], t[k * 3 + 2]]);
  });
}

/** The diverging map as CSS colour stops from −1 to +1. */
export function divergingStops(): string[] {
  return [-1, -0.5, 0, 0.5, 1].map((t) => hex(divergingColor(t)));
}
