// image/preprocess.ts: CLIP's image preprocessing, openai/CLIP `_transform(n_px)` with torchvision's rules:
//   Resize(n, BICUBIC): the short side becomes n, the long side int(n · long / short) (truncated), by PIL's
//                       bicubic (image/resize.ts); skipped when the size already matches.
//   CenterCrop(n):      top = int(round((H − n) / 2)), left likewise; Python's round is half-to-even.
//   (Both sizes and offsets come from image/geometry.ts, shared with eval/frame.ts.)
//   ToTensor:           uint8 → x / 255, (H, W, 3) → (3, n, n).
//   Normalize:          (x − mean) / std per channel, in the tensor's precision (float32 by default).
// One deliberate difference: CLIP converts to RGB after the crop; here the image is RGB from decoding on.
// The same for RGB, grey and JPEG files; RGBA/LA/palette files differ (PIL resizes those premultiplied or
// nearest-neighbour), as they do for any caller that opens them with .convert('RGB') first.

import { fail } from '../errors.js';
import { allocFloat, type DType, type Tensor } from '../tensor/tensor.js';
import { checkRgbImage, type RgbImage } from './decode.js';
import { clipCrop } from './geometry.js';
import { resizeBicubic } from './resize.js';

/** CLIP's per-channel (R, G, B) normalisation mean, for pixels in [0, 1]. */
export const CLIP_MEAN: readonly number[] = [0.48145466, 0.4578275, 0.40821073];
/** CLIP's per-channel (R, G, B) normalisation standard deviation, for pixels in [0, 1]. */
export const CLIP_STD: readonly number[] = [0.26862954, 0.26130258, 0.27577711];

/**
 * Options of CLIP preprocessing: per-channel mean and std (default CLIP_MEAN, CLIP_STD) and the output dtype
 * (default 'float32').
 */
export interface PreprocessOptions {
  mean?: readonly number[]; // per channel, default CLIP_MEAN
  std?: readonly number[];  // per channel, default CLIP_STD
  dtype?: DType;            // default 'float32'
}

/**
 * Resize(size) then CenterCrop(size): the (size, size) RGB crop that CLIP sees, before ToTensor. The
 * geometry (sizes, offsets, rounding) is image/geometry.ts's clipCrop.
 */
export function centerCropResize(img: RgbImage, size: number): RgbImage {
  checkRgbImage(img, 'centerCropResize');
  if (!Number.isInteger(size) || size < 1) fail(`image size ${size} must be a positive integer (e.g. 224)`);
  const { resizedH: h, resizedW: w, top, left } = clipCrop(img.height, img.width, size);
  const resized = w === img.width && h === img.height ? img : resizeBicubic(img, h, w);
  const data = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    const from = ((top + y) * w + left) * 3;
    data.set(resized.data.subarray(from, from + size * 3), y * size * 3);
  }
  return { width: size, height: size, data };
}

/**
 * ToTensor: (H, W, 3) uint8 → (3, H, W) in [0, 1]. A Float32Array rounds each v / 255 once, as torch's
 * float32 division does.
 */
export function toTensor(img: RgbImage, dtype: DType = 'float32'): Tensor {
  const { width: W, height: H } = img;
  const out = allocFloat(dtype, 3 * H * W);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < H * W; p++) out[c * H * W + p] = img.data[3 * p + c] / 255;
  }
  return { data: out, shape: [3, H, W] };
}

/**
 * Normalize: (3, H, W) → (x − mean[c]) / std[c], a new tensor of the same dtype. For float32 the mean and
 * std are rounded to float32 first and both steps round to float32, as torchvision's sub_ then div_ do.
 */
export function normalize(rgb01: Tensor, mean: readonly number[] = CLIP_MEAN, std: readonly number[] = CLIP_STD): Tensor {
  const [C, H, W] = rgb01.shape;
  if (rgb01.shape.length !== 3 || mean.length !== C || std.length !== C) {
    fail(`normalize: expected a (C, H, W) tensor with ${mean.length} channels to match mean/std, got [${rgb01.shape.join(', ')}]`);
  }
  if (std.some((s) => !(s !== 0 && Number.isFinite(s)))) fail(`normalize: std [${std.join(', ')}] must be finite and non-zero`);
  const x = rgb01.data;
  if (x instanceof Float32Array) {
    // float32: the difference rounded, then the quotient rounded by the store
    const out = new Float32Array(x.length);
    for (let c = 0; c < C; c++) {
      const m = Math.fround(mean[c]), s = Math.fround(std[c]);
      for (let p = c * H * W; p < (c + 1) * H * W; p++) out[p] = Math.fround(x[p] - m) / s;
    }
    return { data: out, shape: [C, H, W] };
  }
  const out = new Float64Array(x.length);
  for (let c = 0; c < C; c++) {
    const m = mean[c], s = std[c];
    for (let p = c * H * W; p < (c + 1) * H * W; p++) out[p] = (x[p] - m) / s;
  }
  return { data: out, shape: [C, H, W] };
}

/**
 * The whole of CLIP's _transform(size): (3, size, size), normalised.
 */
export function preprocessImage(img: RgbImage, size: number, opts: PreprocessOptions = {}): Tensor {
  const crop = centerCropResize(img, size);
  return normalize(toTensor(crop, opts.dtype ?? 'float32'), opts.mean ?? CLIP_MEAN, opts.std ?? CLIP_STD);
}
