// image/colormap.ts: OpenCV's COLORMAP_JET and pytorch-grad-cam's show_cam_on_image(img, mask, use_rgb=True,
// image_weight). The 256-entry table is built the way OpenCV 4's colormap.cpp builds it, float32 step by step:
// GNU Octave's jet sampled at 256 points (every value a multiple of 0.5/255), stored as float constants,
// linearly interpolated over linspace(0, 1, 256), then scaled by 255 and rounded half to even — the float
// noise of that interpolation is what decides a few ties (entry 159's blue is 1, not 2).
// Maps are (H, W) in [0, 1]; images are (H, W, 3) uint8 RGB.

import { fail } from '../errors.js';
import { checkMap } from './checkmap.js';
import type { Float } from '../tensor/tensor.js';
import { checkRgbImage, type RgbImage } from './decode.js';

const f32 = Math.fround;

// Octave's jet(256) at index i: clip(min(4x − a, b − 4x), 0, 1) with x = i/255, a/b = 1.5/4.5 (red),
// 0.5/3.5 (green), −0.5/2.5 (blue). In units of 0.5/255 these are exact integers.
function octaveJet(i: number, a: number, b: number): number {
  const halfSteps = Math.min(8 * i - 510 * a, 510 * b - 8 * i); // 2·255·(4x − a) and 2·255·(b − 4x)
  return Math.min(Math.max(halfSteps, 0), 510) / 510;
}

// OpenCV's linspace(0, 1, n) in float32: step = 1/(n − 1), x_i = 0 + i·step.
function linspace(n: number): Float32Array {
  const step = f32(1 / (n - 1));
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = f32(i * step);
  return x;
}

// OpenCV's interp1_<float>: binary search for low < xi ≤ high, then Y[low] + (xi − X[low])·ΔY/ΔX in float32.
function interp1(X: Float32Array, Y: Float32Array, xi: number): number {
  let low = 0;
  let high = X.length - 1;
  if (xi < X[low]) high = 1;
  if (xi > X[high]) low = high - 1;
  while (high - low > 1) {
    const c = low + ((high - low) >> 1);
    if (xi > X[c]) low = c;
    else high = c;
  }
  return f32(Y[low] + f32(f32(f32(xi - X[low]) * f32(Y[high] - Y[low])) / f32(X[high] - X[low])));
}

// Round half to even (cvRound), then saturate to 0..255.
function saturateRound(v: number): number {
  let r = Math.round(v);
  if (Math.abs(v % 1) === 0.5 && r % 2 !== 0) r -= 1;
  return Math.min(Math.max(r, 0), 255);
}

let jet: Uint8Array | null = null;

/**
 * The (256, 3) RGB table of cv2.applyColorMap(·, COLORMAP_JET) (OpenCV returns BGR; this is RGB).
 */
export function jetTable(): Uint8Array {
  if (jet) return jet;
  const X = linspace(256);
  const bounds: [number, number][] = [[1.5, 4.5], [0.5, 3.5], [-0.5, 2.5]]; // R, G, B
  const table = new Uint8Array(256 * 3);
  bounds.forEach(([a, b], ch) => {
    const Y = Float32Array.from({ length: 256 }, (_, i) => octaveJet(i, a, b));
    for (let i = 0; i < 256; i++) table[i * 3 + ch] = saturateRound(f32(interp1(X, Y, X[i]) * 255));
  });
  jet = table;
  return table;
}

/**
 * cv2.applyColorMap(np.uint8(255 · map), COLORMAP_JET) as RGB: 255·map is a float32 product, then truncated.
 * map01 is (H, W); the image is (H, W, 3).
 */
export function applyJet(map01: Float, H: number, W: number): RgbImage {
  if (!Number.isInteger(H) || !Number.isInteger(W) || H < 1 || W < 1) {
    fail(`applyJet: size (H ${H}, W ${W}) is not a positive integer size`);
  }
  checkMap('applyJet', map01, H, W, 'unit');
  const table = jetTable();
  const data = new Uint8Array(H * W * 3);
  for (let p = 0; p < H * W; p++) {
    const k = Math.trunc(f32(255 * f32(map01[p]))) * 3; // the level's row of the table
    data[p * 3] = table[k];
    data[p * 3 + 1] = table[k + 1];
    data[p * 3 + 2] = table[k + 2];
  }
  return { width: W, height: H, data };
}

/**
 * pytorch-grad-cam's show_cam_on_image(img / 255, map, use_rgb=True, image_weight), float32 throughout:
 *   cam = (1 − w)·heatmap/255 + w·img/255;  cam = cam / max(cam);  out = uint8(255·cam) (truncation).
 * A JET heatmap is never all black, so max(cam) > 0.
 */
export function overlay(img: RgbImage, map01: Float, imageWeight = 0.5): RgbImage {
  checkRgbImage(img, 'overlay');
  if (!(imageWeight >= 0 && imageWeight <= 1)) fail(`overlay: image weight ${imageWeight} must be in [0, 1]`);
  const heat = applyJet(map01, img.height, img.width).data;
  const wHeat = f32(1 - imageWeight), wImg = f32(imageWeight);
  // cam depends only on the two bytes (heat, image): a 256×256 float32 table holds every value it can take, the
  // same sums rounded the same way as computing each element (a 4000 × 3000 photo: 36 M elements, 65,536 sums)
  const camOf = new Float32Array(256 * 256);
  for (let h = 0; h < 256; h++) {
    const a = f32(wHeat * f32(h / 255));
    for (let v = 0; v < 256; v++) camOf[h * 256 + v] = a + f32(wImg * f32(v / 255));
  }
  let max = 0;
  for (let i = 0; i < heat.length; i++) max = Math.max(max, camOf[heat[i] * 256 + img.data[i]]);
  const outOf = new Uint8Array(256 * 256);
  for (let k = 0; k < outOf.length; k++) outOf[k] = Math.trunc(f32(255 * f32(camOf[k] / max)));
  const data = new Uint8Array(heat.length);
  for (let i = 0; i < heat.length; i++) data[i] = outOf[heat[i] * 256 + img.data[i]];
  return { width: img.width, height: img.height, data };
}
