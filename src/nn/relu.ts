// nn/relu.ts: ReLU, as torch.nn.ReLU: out = max(x, 0), elementwise over n values.
// Backward reads the output: out > 0 exactly where x > 0 (torch's gradient at x = 0 is 0, and so is ours).

import type { Float } from '../tensor/tensor.js';

/** out = max(inp, 0) over n values (out may be inp itself: in place). */
export function reluForward(out: Float, inp: Float, n: number): void {
  for (let i = 0; i < n; i++) out[i] = inp[i] > 0 ? inp[i] : 0;
}

/**
 * forward was out = max(x, 0), so dinp += dout where out > 0
 */
export function reluBackward(dinp: Float, dout: Float, out: Float, n: number): void {
  for (let i = 0; i < n; i++) if (out[i] > 0) dinp[i] += dout[i];
}
