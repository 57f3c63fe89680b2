// eval/confidence.ts: average drop and increase in confidence (Grad-CAM++, Chattopadhyay et al. 2018,
// arXiv 1710.11063, objective evaluation); per pair as pytorch-grad-cam's metrics/cam_mult_image.py has them.
// Y = the model's score for the image, O = its score for the explanation image = image × map (per channel).
// C = 3 channels, H, W = image and map rows, columns.

import { fail } from '../errors.js';
import { checkMap } from '../image/checkmap.js';
import type { Float } from '../tensor/tensor.js';

/**
 * pytorch-grad-cam's multiply_tensor_with_cam: the (normalised) input times the map, broadcast over
 * channels. On a CLIP-normalised image, a pixel the map zeroes becomes the dataset mean colour.
 * The map must lie in [0, 1] (a min-max normalised CAM).
 */
export function camMultImage(
  image: Float, map: Float, H: number, W: number, // (3, H, W) (H, W)
): Float32Array {
  checkMap('camMultImage', map, H, W, 'nonNegative');
  for (let p = 0; p < map.length; p++) {
    if (map[p] > 1) {
      fail(`camMultImage: map value ${map[p]} at row ${Math.floor(p / W)}, column ${p % W} is above 1; `
        + 'the explanation map is a mask in [0, 1] (hint: min-max normalise it)', 'usage');
    }
  }
  const N = H * W;
  if ((!(image instanceof Float32Array) && !(image instanceof Float64Array)) || image.length !== 3 * N) {
    fail(`camMultImage: image must be a float array (3, ${H}, ${W}) of ${3 * N} values (got ${image?.length})`, 'usage');
  }
  const out = new Float32Array(3 * N);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < N; p++) out[c * N + p] = image[c * N + p] * map[p];
  }
  return out;
}

/**
 * pytorch-grad-cam's DropInConfidence for one pair: max(0, Y - O) (not divided by Y).
 */
export function dropInConfidence(Y: number, O: number): number {
  return Math.max(0, Y - O);
}

/**
 * pytorch-grad-cam's IncreaseInConfidence for one pair: 1 when O > Y, else 0 (equal scores are no increase).
 */
export function increaseInConfidence(Y: number, O: number): number {
  return O > Y ? 1 : 0;
}

/** Grad-CAM++'s Average Drop and Increase in Confidence over n images, in percent. */
export interface DropIncrease {
  averageDrop: number; // Grad-CAM++: 100 · mean_i max(0, Y_i - O_i) / Y_i
  increase: number;    // Grad-CAM++: 100 · mean_i [O_i > Y_i]
  n: number;
}

/**
 * Over a dataset of pairs. The drop divides by Y, so every Y must be > 0 — a probability (softmax over
 * the prompts), not a raw cosine, which can be negative.
 */
export function averageDropIncrease(Y: ArrayLike<number>, O: ArrayLike<number>): DropIncrease {
  if (Y.length !== O.length) fail(`averageDropIncrease: ${Y.length} scores Y but ${O.length} scores O; they pair up`, 'usage');
  if (Y.length === 0) fail('averageDropIncrease: no pairs to average', 'usage');
  let drop = 0;
  let inc = 0;
  for (let i = 0; i < Y.length; i++) {
    if (!Number.isFinite(Y[i]) || !Number.isFinite(O[i])) {
      fail(`averageDropIncrease: pair ${i} has Y ${Y[i]}, O ${O[i]}; both must be finite`, 'usage');
    }
    if (!(Y[i] > 0)) {
      fail(`averageDropIncrease: Y[${i}] = ${Y[i]} but average drop divides by the unperturbed score, which must be > 0 `
        + '(hint: score with a probability, e.g. the softmax over the prompts)', 'usage');
    }
    drop += dropInConfidence(Y[i], O[i]) / Y[i];
    inc += increaseInConfidence(Y[i], O[i]);
  }
  return { averageDrop: (100 * drop) / Y.length, increase: (100 * inc) / Y.length, n: Y.length };
}
