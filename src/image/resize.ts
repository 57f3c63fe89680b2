// image/resize.ts: PIL's `Image.resize((w, h), Image.BICUBIC)` on 8-bit RGB, bit for bit (Pillow's
// libImaging/Resample.c, 8-bit path). A separable filter, horizontal pass first, then vertical; a pass whose
// size does not change is skipped. Bicubic with a = −0.5 and support 2, widened by the scale factor when
// downscaling (antialiasing). Weights are normalised in double, then turned into 22-bit fixed point; each
// output is rounded from the integer sum and clipped to 0..255 after each pass.
// Images are (H, W, 3) uint8 (RgbImage).

import { fail } from '../errors.js';
import { checkRgbImage, type RgbImage } from './decode.js';

// 32 bits − 8 for the result − 2 for overshoot (bicubic has negative lobes, so sums can leave 0..1).
const PRECISION_BITS = 32 - 8 - 2;
const ONE = 1 << PRECISION_BITS;

// Keys' cubic with a = −0.5 (Resample.c's bicubic_filter), written in the same operation order.
function bicubicFilter(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

interface Coeffs {
  ksize: number;       // taps per output sample (the maximum)
  start: Int32Array;   // (out) first input sample used
  count: Int32Array;   // (out) number of input samples used
  k: Int32Array;       // (out, ksize) fixed-point weights
}

// Resample.c's precompute_coeffs + normalize_coeffs_8bpc for input box [0, inSize) → outSize samples.
function precomputeCoeffs(inSize: number, outSize: number): Coeffs {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1); // widen the filter when downscaling
  const support = 2 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const ss = 1 / filterscale;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const k = new Int32Array(outSize * ksize);
  const w = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C's (int) cast truncates toward zero; both ends are then clamped to the image
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      w[x] = bicubicFilter((x + xmin - center + 0.5) * ss);
      ww += w[x];
    }
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? w[x] / ww : w[x];
      // round half away from zero into fixed point, as normalize_coeffs_8bpc
      k[xx * ksize + x] = Math.trunc(v < 0 ? -0.5 + v * ONE : 0.5 + v * ONE);
    }
    start[xx] = xmin;
    count[xx] = xmax;
  }
  return { ksize, start, count, k };
}

// The fixed-point sum starts at one half, so the shift rounds; clip8 clamps to 0..255.
function clip8(sum: number): number {
  const v = Math.floor(sum / ONE);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

// out (H, outW, 3) ← inp (H, inW, 3) along x.
function resampleHorizontal(out: Uint8Array, inp: Uint8Array, H: number, inW: number, outW: number, c: Coeffs): void {
  for (let y = 0; y < H; y++) {
    for (let xx = 0; xx < outW; xx++) {
      const x0 = c.start[xx], n = c.count[xx], kk = xx * c.ksize;
      let s0 = ONE / 2, s1 = ONE / 2, s2 = ONE / 2;
      for (let x = 0; x < n; x++) {
        const p = (y * inW + x0 + x) * 3, w = c.k[kk + x];
        s0 += inp[p] * w; s1 += inp[p + 1] * w; s2 += inp[p + 2] * w;
      }
      const o = (y * outW + xx) * 3;
      out[o] = clip8(s0); out[o + 1] = clip8(s1); out[o + 2] = clip8(s2);
    }
  }
}

// out (outH, W, 3) ← inp (inH, W, 3) along y.
function resampleVertical(out: Uint8Array, inp: Uint8Array, W: number, outH: number, c: Coeffs): void {
  for (let yy = 0; yy < outH; yy++) {
    const y0 = c.start[yy], n = c.count[yy], kk = yy * c.ksize;
    for (let x = 0; x < W; x++) {
      let s0 = ONE / 2, s1 = ONE / 2, s2 = ONE / 2;
      for (let y = 0; y < n; y++) {
        const p = ((y0 + y) * W + x) * 3, w = c.k[kk + y];
        s0 += inp[p] * w; s1 += inp[p + 1] * w; s2 += inp[p + 2] * w;
      }
      const o = (yy * W + x) * 3;
      out[o] = clip8(s0); out[o + 1] = clip8(s1); out[o + 2] = clip8(s2);
    }
  }
}

/**
 * PIL's Image.resize((W, H), Image.BICUBIC) to H rows, W columns (note: PIL takes width first; we take
 * (H, W) as everywhere else). Same size → a copy, as PIL returns.
 */
export function resizeBicubic(img: RgbImage, H: number, W: number): RgbImage {
  checkRgbImage(img, 'resizeBicubic');
  if (!Number.isInteger(H) || !Number.isInteger(W) || H < 1 || W < 1) {
    fail(`resizeBicubic: target size (H ${H}, W ${W}) must be positive integers`);
  }
  let cur = img;
  // PIL runs the horizontal pass on the rows the vertical pass will read; with a full-image box that is
  // every row, so resizing all rows here gives the same pixels.
  if (W !== img.width) {
    const data = new Uint8Array(img.height * W * 3);
    resampleHorizontal(data, img.data, img.height, img.width, W, precomputeCoeffs(img.width, W));
    cur = { width: W, height: img.height, data };
  }
  if (H !== img.height) {
    const data = new Uint8Array(H * W * 3);
    resampleVertical(data, cur.data, W, H, precomputeCoeffs(img.height, H));
    cur = { width: W, height: H, data };
  }
  return cur === img ? { width: W, height: H, data: img.data.slice() } : cur;
}
