// image/checkmap.ts: the one check of a saliency map (H, W) handed to a metric or a colour map: a Float32Array or
// Float64Array of H·W values, each finite — and, by `range`, non-negative (metrics that read it as mass) or in
// [0, 1] (colour maps and masks). The message names the caller, the value and its row and column.

import { fail } from '../errors.js';
import type { Float } from '../tensor/tensor.js';

/** What a map's values must be: 'finite', 'nonNegative' (and finite) or 'unit' (in [0, 1]). */
export type MapRange = 'finite' | 'nonNegative' | 'unit';

/** Fails unless `map` is an (H, W) float map whose values all lie in `range`; `what` names the caller. */
export function checkMap(what: string, map: Float, H: number, W: number, range: MapRange): void {
  if (!(map instanceof Float32Array) && !(map instanceof Float64Array)) {
    fail(`${what}: the map must be a Float32Array or Float64Array (got ${Object.prototype.toString.call(map)})`, 'usage');
  }
  if (!Number.isInteger(W) || !Number.isInteger(H) || W < 1 || H < 1) {
    fail(`${what}: map: size ${W}×${H} is not a pair of positive integers`, 'usage');
  }
  if (map.length !== H * W) {
    fail(`${what}: map has ${map.length} values but H×W = ${H}×${W} needs ${H * W}`, 'usage');
  }
  for (let i = 0; i < map.length; i++) {
    const v = map[i];
    const at = `at row ${Math.floor(i / W)}, column ${i % W}`;
    if (!Number.isFinite(v)) fail(`${what}: map value ${v} ${at} is not finite`, 'usage');
    if (range === 'nonNegative' && v < 0) {
      fail(`${what}: map value ${v} ${at} is negative; this metric reads the map as mass `
        + '(hint: pass the ReLU\'d, min-max normalised map the CAM template returns)', 'usage');
    }
    if (range === 'unit' && !(v >= 0 && v <= 1)) {
      fail(`${what}: map value ${v} ${at} is outside [0, 1] (min-max normalise the map first)`, 'usage');
    }
  }
}
