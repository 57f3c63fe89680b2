// nn/gelu.ts: CLIP's MLP activations, elementwise over n values.
//   quick_gelu(x) = x·σ(1.702x)                   (OpenAI CLIP; HF hidden_act 'quick_gelu')
//   gelu(x)       = x·Φ(x) = x·(1 + erf(x/√2))/2    (torch.nn.functional.gelu, exact erf form; HF 'gelu')
// activationOn / activationBackwardOn run on the backend's own kernels where it has them (kernels/wasm).

import type { Backend } from '../kernels/backend.js';
import type { Float } from '../tensor/tensor.js';
import { erf } from './erf.js';

/** An MLP activation: 'quick_gelu' (x·σ(1.702x), OpenAI CLIP) or 'gelu' (exact erf form). */
export type Activation = 'quick_gelu' | 'gelu';

const QUICK = 1.702;
const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 0.3989422804014327; // 1/√(2π), the normal density's constant

/** out = quick_gelu(inp) = x·σ(1.702x), elementwise over n values. */
export function quickGeluForward(out: Float, inp: Float, n: number): void {
  for (let i = 0; i < n; i++) {
    const x = inp[i];
    out[i] = x / (1 + Math.exp(-QUICK * x));
  }
}

/**
 * d/dx x·σ(ax) = σ(ax) + a·x·σ(ax)·(1 − σ(ax))
 */
export function quickGeluBackward(dinp: Float, dout: Float, inp: Float, n: number): void {
  for (let i = 0; i < n; i++) {
    const x = inp[i];
    const s = 1 / (1 + Math.exp(-QUICK * x));
    dinp[i] += dout[i] * (s + QUICK * x * s * (1 - s));
  }
}

/** out = gelu(inp) = x·Φ(x) (exact erf form), elementwise over n values. */
export function geluForward(out: Float, inp: Float, n: number): void {
  for (let i = 0; i < n; i++) {
    const x = inp[i];
    out[i] = 0.5 * x * (1 + erf(x * SQRT1_2));
  }
}

/**
 * d/dx x·Φ(x) = Φ(x) + x·φ(x),  φ(x) = e^(−x²/2)/√(2π)
 */
export function geluBackward(dinp: Float, dout: Float, inp: Float, n: number): void {
  for (let i = 0; i < n; i++) {
    const x = inp[i];
    const cdf = 0.5 * (1 + erf(x * SQRT1_2));
    dinp[i] += dout[i] * (cdf + x * Math.exp(-0.5 * x * x) * INV_SQRT_2PI);
  }
}

/** out = act(inp) over n values, for either activation. */
export function activationForward(act: Activation, out: Float, inp: Float, n: number): void {
  if (act === 'gelu') geluForward(out, inp, n);
  else quickGeluForward(out, inp, n);
}

/** dinp = dout · act'(inp) over n values, for either activation. */
export function activationBackward(act: Activation, dinp: Float, dout: Float, inp: Float, n: number): void {
  if (act === 'gelu') geluBackward(dinp, dout, inp, n);
  else quickGeluBackward(dinp, dout, inp, n);
}

/**
 * activationForward / activationBackward, or the backend's kernels for them (same arguments).
 */
export function activationOn(be: Backend, act: Activation, out: Float, inp: Float, n: number): void {
  if (be.activation) be.activation(act, out, inp, n);
  else activationForward(act, out, inp, n);
}

/** activationBackward on the backend's kernels where it has them (same arguments plus the backend). */
export function activationBackwardOn(be: Backend, act: Activation, dinp: Float, dout: Float, inp: Float, n: number): void {
  if (be.activationBackward) be.activationBackward(act, dinp, dout, inp, n);
  else activationBackward(act, dinp, dout, inp, n);
}
