// kernels/reference.ts: the `ts` backend — the plain loops of nn/linear.ts and nn/attention.ts, which sum in
// float64 in a fixed order (so float32 results are rounded once). Every other backend is checked against it.
// It has no threads, memory or optional kernels: layer norm, the activations and the residual sums run the
// loops in their own nn/ files.

import { attentionBackward, attentionForward } from '../nn/attention.js';
import { linearBackward, linearForward } from '../nn/linear.js';
import type { Backend } from './backend.js';

/** The reference backend: plain TypeScript loops, float32 or float64, the same bits on every machine. */
export const tsBackend: Backend = {
  name: 'ts',
  matmul: linearForward,
  matmulBackward: linearBackward,
  attention: attentionForward,
  attentionBackward,
};
