// eval/energy.ts: the energy-based pointing game (Score-CAM, Wang et al. 2020, arXiv 1910.01279): the share
// of the map's mass that falls inside the object,  Σ_{in} L / (Σ_{in} L + Σ_{out} L).
// A map pixel is inside when its centre, carried to the original image by the frame, is inside the object's
// boxes (their union: a pixel counts once) or mask. H, W = map rows, columns.

import type { Float } from '../tensor/tensor.js';
import {
  checkRegion, frameOrIdentity, mapPixelCentre, regionContains, type MapFrame, type ObjectRegion,
} from './frame.js';
import { checkMap } from '../image/checkmap.js';

/** Options of the energy-based pointing metric: the map → original frame (default identity). */
export interface EnergyOptions {
  frame?: MapFrame; // map → original; default identity
}

/**
 * The map must be non-negative (mass). Defined results: a constant map gives the fraction of map pixels
 * inside the object; an all-zero map has no mass and gives 0 (it points at nothing); an object that covers
 * no map pixel gives 0. Mass the crop cut away is not part of the map, so it is in neither sum.
 */
export function energyPointingGame(
  map: Float, H: number, W: number, // (H, W), >= 0
  region: ObjectRegion, options: EnergyOptions = {}): number {
  checkMap('energyPointingGame', map, H, W, 'nonNegative');
  const frame = frameOrIdentity(options.frame, H, W);
  checkRegion('energyPointingGame', region, frame);
  let inside = 0;
  let total = 0;
  for (let i = 0; i < H; i++) {
    for (let j = 0; j < W; j++) {
      const v = map[i * W + j];
      total += v;
      const c = mapPixelCentre(frame, i, j);
      if (regionContains(region, frame, c.x, c.y)) inside += v;
    }
  }
  return total > 0 ? inside / total : 0;
}
