// eval/boxiou.ts: box IoU localisation, after CAM (Zhou et al. 2016, arXiv 1512.04150) and Grad-CAM
// (arXiv 1610.02391): keep the map pixels >= threshold · max, take the largest connected region, its bounding
// box, and the IoU of that box with the object's box. Those papers threshold at 0.2 and 0.15 of the max; our
// default 0.5 is this project's choice (issue 8), not a paper's — pass `threshold` to reproduce theirs.
// H, W = map rows, columns; boxes are [x1, y1, x2, y2] in continuous original coordinates (frame.ts).

import { fail } from '../errors.js';
import type { Float } from '../tensor/tensor.js';
import { checkBox, frameOrIdentity, type Box, type MapFrame } from './frame.js';
import { checkMap } from '../image/checkmap.js';

/** Box-IoU defaults: keep pixels at >= 0.5 of the map's max, 8-connected regions. */
export const BOX_IOU_DEFAULTS = { threshold: 0.5, connectivity: 8 as 4 | 8 };

/** Options of the box-IoU metric (defaults in BOX_IOU_DEFAULTS). */
export interface BoxIouOptions {
  threshold?: number;     // fraction of the map's max, in [0, 1]; a pixel is kept when map >= threshold·max
  connectivity?: 4 | 8;   // 8 (default): diagonal neighbours join, as OpenCV's contours and MATLAB's bwlabel see regions
  frame?: MapFrame;       // map → original; default identity
}

/** The bounding box of a map's largest kept region, in map pixels and in original coordinates. */
export interface RegionBox {
  mapBox: Box | null; // [col0, row0, col1 + 1, row1 + 1] in map pixels (end exclusive); null when nothing is kept
  box: Box | null;    // the same box in original continuous coordinates
  regionSize: number; // pixels in the largest region (0 when nothing is kept)
}

/** A map's largest-region box with its best IoU against an object's boxes. */
export interface BoxIouResult extends RegionBox {
  iou: number;        // the best IoU over the object's boxes; 0 when nothing is kept
  boxIndex: number;   // which object box gave it (-1 when iou is 0 for all)
}

/**
 * Intersection over union of two boxes, continuous areas (x2 - x1)·(y2 - y1). Two empty boxes give 0.
 */
export function boxIou(a: Box, b: Box): number {
  checkBox('boxIou', a);
  checkBox('boxIou', b);
  const iw = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const ih = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = iw * ih;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * The bounding box of the largest connected region of map >= threshold·max. Ties between regions of equal
 * size go to the one met first in a row-major scan. Defined results: a map whose max is 0 (all zeros) keeps
 * nothing (null boxes); a constant positive map keeps everything (the whole map's box).
 */
export function largestRegionBox(
  map: Float, H: number, W: number, // (H, W), >= 0
  options: BoxIouOptions = {}): RegionBox {
  checkMap('largestRegionBox', map, H, W, 'nonNegative');
  const frame = frameOrIdentity(options.frame, H, W);
  const threshold = options.threshold ?? BOX_IOU_DEFAULTS.threshold;
  const connectivity = options.connectivity ?? BOX_IOU_DEFAULTS.connectivity;
  if (!Number.isFinite(threshold) || threshold < 0 || threshold > 1) {
    fail(`largestRegionBox: threshold ${threshold} must be a fraction of the max in [0, 1] (CAM used 0.2, Grad-CAM 0.15)`, 'usage');
  }
  if (connectivity !== 4 && connectivity !== 8) fail(`largestRegionBox: connectivity ${connectivity} must be 4 or 8`, 'usage');

  let max = 0;
  for (let k = 0; k < map.length; k++) if (map[k] > max) max = map[k];
  if (max === 0) return { mapBox: null, box: null, regionSize: 0 };
  const cut = threshold * max;

  // Label regions by flood fill from each unvisited kept pixel, in row-major order.
  const seen = new Uint8Array(H * W);
  const stack = new Int32Array(H * W);
  let bestSize = 0;
  let best: [number, number, number, number] = [0, 0, 0, 0]; // col0, row0, col1, row1 (inclusive)
  for (let s = 0; s < H * W; s++) {
    if (seen[s] || map[s] < cut) continue;
    seen[s] = 1;
    let top = 0;
    stack[top++] = s;
    let size = 0;
    let c0 = W, r0 = H, c1 = -1, r1 = -1;
    while (top > 0) {
      const p = stack[--top];
      const i = Math.floor(p / W);
      const j = p % W;
      size++;
      if (j < c0) c0 = j;
      if (j > c1) c1 = j;
      if (i < r0) r0 = i;
      if (i > r1) r1 = i;
      for (let di = -1; di <= 1; di++) {
        for (let dj = -1; dj <= 1; dj++) {
          if ((di === 0 && dj === 0) || (connectivity === 4 && di !== 0 && dj !== 0)) continue;
          const ni = i + di;
          const nj = j + dj;
          if (ni < 0 || nj < 0 || ni >= H || nj >= W) continue;
          const q = ni * W + nj;
          if (seen[q] || map[q] < cut) continue;
          seen[q] = 1;
          stack[top++] = q;
        }
      }
    }
    if (size > bestSize) { bestSize = size; best = [c0, r0, c1, r1]; }
  }
  const [c0, r0, c1, r1] = best;
  const mapBox: Box = [c0, r0, c1 + 1, r1 + 1];
  const box: Box = [
    frame.offsetX + frame.scaleX * c0, frame.offsetY + frame.scaleY * r0,
    frame.offsetX + frame.scaleX * (c1 + 1), frame.offsetY + frame.scaleY * (r1 + 1),
  ];
  return { mapBox, box, regionSize: bestSize };
}

/**
 * The metric: the largest region's box against the object's boxes (the best match when there are several
 * instances). An object given as no boxes, or a map that keeps nothing, scores 0.
 */
export function mapBoxIou(
  map: Float, H: number, W: number, // (H, W), >= 0
  objectBoxes: readonly Box[], options: BoxIouOptions = {}): BoxIouResult {
  if (!Array.isArray(objectBoxes)) fail('mapBoxIou: objectBoxes must be an array of [x1, y1, x2, y2]', 'usage');
  objectBoxes.forEach((b, k) => checkBox(`mapBoxIou object box ${k}`, b));
  const region = largestRegionBox(map, H, W, options);
  let iou = 0;
  let boxIndex = -1;
  if (region.box) {
    objectBoxes.forEach((b, k) => {
      const v = boxIou(region.box as Box, b);
      if (v > iou) { iou = v; boxIndex = k; }
    });
  }
  return { ...region, iou, boxIndex };
}
