// eval/pointing.ts: the pointing game (Zhang et al. 2016, "Top-down neural attention by excitation backprop")
// as torchray's benchmark plays it (torchray/benchmark/pointing_game.py, examples/attribution_benchmark.py):
// the point is the map's first maximum in row-major order (torch.argmax); it is a hit when some pixel of the
// object lies at distance < tolerance (strictly) from it, distances in pixels of the ORIGINAL image
// (default 15). H, W = map rows, columns; the map may be in another frame (see frame.ts).
// Beside it, the strict game (`inside`): the same point must lie inside the object itself — its mask, or its
// boxes for box-only datasets — with no tolerance; 15 px is an eighth of a 128-px scene, so the loose rule hits
// neighbours too.

import { fail } from '../errors.js';
import type { Float } from '../tensor/tensor.js';
import {
  checkRegion, frameOrIdentity, mapPixelCentre, regionContains, type MapFrame, type ObjectRegion,
} from './frame.js';
import { checkMap } from '../image/checkmap.js';

/** The pointing-game tolerance, in original-image pixels (torchray's default). */
export const POINTING_TOLERANCE = 15; // torchray's PointingGame default, in original-image pixels

/**
 * Options of the pointing game: tolerance in original pixels (default POINTING_TOLERANCE) and the map → original
 * frame.
 */
export interface PointingOptions {
  tolerance?: number; // pixels at the original resolution
  frame?: MapFrame;   // map → original; default identity (then the map is the original's size)
}

/** The outcome of one pointing-game trial: hit or miss, the map's maximum and its distance to the object. */
export interface PointingResult {
  hit: boolean;
  inside: boolean;                   // the strict game: the point lies inside the object (frame.ts regionContains)
  row: number; col: number;          // the maximum in the map
  maxCount: number;                  // how many map pixels share the maximum (1 = no tie)
  x: number; y: number;              // the point in original pixel indices (pixel (i, j) sits at x = j, y = i)
  distance: number;                  // to the nearest object pixel; Infinity when the object covers no pixel
}

/**
 * torchray compares the point with pixel indices (its map is resized to the original, so the point is a
 * pixel). Here the map pixel's centre is carried to the original by the frame and may fall between pixels:
 * x = offsetX + scaleX·(col + 0.5) - 0.5 in index units. With the identity frame x = col, as in torchray.
 *
 * Ties: the first maximum wins, as torch.argmax; a constant (or all-zero) map therefore points at its
 * top-left pixel. That is torchray's behaviour, kept so scores compare; maxCount reports the tie.
 */
export function pointingGame(
  map: Float, H: number, W: number, // (H, W)
  region: ObjectRegion, options: PointingOptions = {}): PointingResult {
  checkMap('pointingGame', map, H, W, 'finite');
  const frame = frameOrIdentity(options.frame, H, W);
  checkRegion('pointingGame', region, frame);
  const tolerance = options.tolerance ?? POINTING_TOLERANCE;
  if (!Number.isFinite(tolerance) || tolerance < 0) {
    fail(`pointingGame: tolerance ${tolerance} must be a finite number of pixels >= 0 (torchray uses 15)`, 'usage');
  }

  // First maximum in row-major order, and how many pixels share it.
  let best = 0;
  let maxCount = 1;
  for (let k = 1; k < map.length; k++) {
    if (map[k] > map[best]) { best = k; maxCount = 1; } else if (map[k] === map[best]) maxCount++;
  }
  const row = Math.floor(best / W);
  const col = best % W;
  const c = mapPixelCentre(frame, row, col);
  const x = c.x - 0.5;
  const y = c.y - 0.5;
  // strict: the map pixel's centre (continuous coordinates) falls in a mask pixel, or inside a box
  const inside = regionContains(region, frame, c.x, c.y);

  // Squared distance from (x, y) to the nearest object pixel index.
  let best2 = Infinity;
  const Wo = frame.origWidth;
  const Ho = frame.origHeight;
  if (region.mask) {
    for (let i = 0; i < Ho; i++) {
      for (let j = 0; j < Wo; j++) {
        if (region.mask[i * Wo + j] === 0) continue;
        const d2 = (j - x) * (j - x) + (i - y) * (i - y);
        if (d2 < best2) best2 = d2;
      }
    }
  } else {
    for (const [x1, y1, x2, y2] of region.boxes ?? []) {
      // Pixels whose centre is in the box (frame.ts), clipped to the image.
      const j0 = Math.max(0, Math.ceil(x1 - 0.5));
      const j1 = Math.min(Wo - 1, Math.ceil(x2 - 0.5) - 1);
      const i0 = Math.max(0, Math.ceil(y1 - 0.5));
      const i1 = Math.min(Ho - 1, Math.ceil(y2 - 0.5) - 1);
      if (j0 > j1 || i0 > i1) continue; // covers no pixel
      // x and y separate: the nearest covered column and row are each the nearest integer in range.
      const dx = nearestInRange(x, j0, j1) - x;
      const dy = nearestInRange(y, i0, i1) - y;
      const d2 = dx * dx + dy * dy;
      if (d2 < best2) best2 = d2;
    }
  }
  // torchray: accept = (v + u) < tolerance**2, strictly.
  return { hit: best2 < tolerance * tolerance, inside, row, col, maxCount, x, y, distance: Math.sqrt(best2) };
}

function nearestInRange(v: number, lo: number, hi: number): number {
  if (v <= lo) return lo;
  if (v >= hi) return hi;
  return Math.round(v);
}
