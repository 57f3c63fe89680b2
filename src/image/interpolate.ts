// image/interpolate.ts: torch.nn.functional.interpolate(x, size=(H, W), mode, align_corners=False) for
// mode 'bicubic' (Keys' cubic, a = −0.75, no antialias) and 'bilinear', as PyTorch's CPU kernels do it:
// source coordinate = (dst + 0.5)·in/out − 0.5 (from the sizes, not a scale factor); bicubic reads the four
// neighbours ⌊src⌋−1 … ⌊src⌋+2 with indices clamped to the border; bilinear clamps the coordinate at 0 and
// takes the right neighbour only inside the image. Each output is Σ_rows w_y · (Σ_cols w_x · x), in double.
// x is (C, h, w) or (h, w); the result is (C, H, W) or (H, W) of the same dtype. Bilinear also takes
// align_corners=True (torch.nn.UpsamplingBilinear2d, Score-CAM's masks): source = dst·(in − 1)/(out − 1), neighbours
// ⌊src⌋ and min(⌊src⌋ + 1, in − 1).

import { fail } from '../errors.js';
import { allocFloat, dtypeOf, type Tensor } from '../tensor/tensor.js';

/** The interpolation of a resize: 'bicubic' (PyTorch's cubic convolution, a = −0.75) or 'bilinear'. */
export type InterpolateMode = 'bicubic' | 'bilinear';

const A = -0.75; // PyTorch's cubic convolution coefficient

// Keys' cubic for |t| ≤ 1 and for 1 < |t| < 2 (PyTorch's cubic_convolution1/2).
function cubic1(x: number): number {
  return ((A + 2) * x - (A + 3)) * x * x + 1;
}
function cubic2(x: number): number {
  return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
}

interface Taps {
  n: number;            // taps per output sample: 4 (bicubic) or 2 (bilinear)
  index: Int32Array;    // (out, n) input sample of each tap, already clamped
  weight: Float64Array; // (out, n)
}

// The taps along one axis of length inSize resampled to outSize.
function taps(mode: InterpolateMode, inSize: number, outSize: number, alignCorners: boolean): Taps {
  const scale = alignCorners ? (outSize > 1 ? (inSize - 1) / (outSize - 1) : 0) : inSize / outSize;
  const n = mode === 'bicubic' ? 4 : 2;
  const index = new Int32Array(outSize * n);
  const weight = new Float64Array(outSize * n);
  for (let d = 0; d < outSize; d++) {
    if (alignCorners) {
      const src = d * scale;
      const i0 = Math.floor(src);
      const l1 = src - i0;
      index[d * 2] = i0;
      index[d * 2 + 1] = Math.min(i0 + 1, inSize - 1);
      weight[d * 2] = 1 - l1;
      weight[d * 2 + 1] = l1;
    } else if (mode === 'bicubic') {
      const src = scale * (d + 0.5) - 0.5;  // not clamped for cubic
      const i0 = Math.floor(src);
      const t = src - i0;
      const w = [cubic2(t + 1), cubic1(t), cubic1(1 - t), cubic2(2 - t)];
      for (let j = 0; j < 4; j++) {
        index[d * 4 + j] = Math.min(Math.max(i0 - 1 + j, 0), inSize - 1);
        weight[d * 4 + j] = w[j];
      }
    } else if (inSize === outSize) {
      index[d * 2] = index[d * 2 + 1] = d;  // PyTorch copies when the size does not change
      weight[d * 2] = 1;
    } else {
      const src = Math.max(scale * (d + 0.5) - 0.5, 0);
      const i0 = Math.trunc(src);
      const l1 = Math.min(Math.max(src - i0, 0), 1);
      index[d * 2] = i0;
      index[d * 2 + 1] = i0 < inSize - 1 ? i0 + 1 : i0;
      weight[d * 2] = 1 - l1;
      weight[d * 2 + 1] = l1;
    }
  }
  return { n, index, weight };
}

/** torch.nn.functional.interpolate of x (C,h,w) or (h,w) to (C,H,W) or (H,W); `alignCorners` (bilinear only)
 * as align_corners=True. */
export function interpolate(x: Tensor, H: number, W: number, mode: InterpolateMode, alignCorners = false): Tensor {
  const rank = x.shape.length;
  if (rank !== 2 && rank !== 3) fail(`interpolate: expected a (C, h, w) or (h, w) tensor, got [${x.shape.join(', ')}]`);
  if (mode !== 'bicubic' && mode !== 'bilinear') fail(`interpolate: mode "${mode}" is not 'bicubic' or 'bilinear'`);
  if (alignCorners && mode !== 'bilinear') fail('interpolate: alignCorners is implemented for bilinear only');
  if (!Number.isInteger(H) || !Number.isInteger(W) || H < 1 || W < 1) {
    fail(`interpolate: output size ${H}×${W} must be positive integers`);
  }
  const [C, h, w] = rank === 3 ? x.shape : [1, ...x.shape];
  if (h < 1 || w < 1) fail(`interpolate: input [${x.shape.join(', ')}] has no pixels`);
  const ty = taps(mode, h, H, alignCorners);
  const tx = taps(mode, w, W, alignCorners);
  const out = allocFloat(dtypeOf(x.data), C * H * W);
  const inp = x.data;
  // rowsX[r][X] = Σ_cols w_x · x[r][·], the inner sum, computed once per input row and output column (every
  // output row reads it again): the same sums in the same order as computing it per output
  const rowsX = new Float64Array(h * W);
  for (let c = 0; c < C; c++) {
    const plane = c * h * w;
    for (let r = 0; r < h; r++) {
      for (let X = 0; X < W; X++) {
        let s = 0;
        for (let i = 0; i < tx.n; i++) s += tx.weight[X * tx.n + i] * inp[plane + r * w + tx.index[X * tx.n + i]];
        rowsX[r * W + X] = s;
      }
    }
    for (let Y = 0; Y < H; Y++) {
      for (let X = 0; X < W; X++) {
        let acc = 0;
        for (let j = 0; j < ty.n; j++) acc += ty.weight[Y * ty.n + j] * rowsX[ty.index[Y * ty.n + j] * W + X];
        out[(c * H + Y) * W + X] = acc;
      }
    }
  }
  return { data: out, shape: rank === 3 ? [C, H, W] : [H, W] };
}
