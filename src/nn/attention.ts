// nn/attention.ts: the attention core of a transformer block, softmax(q·kᵀ/√hd)·v over H heads,
// as torch.nn.MultiheadAttention / HF CLIPAttention between their input and output projections.
// B = images (or texts), N = tokens, nq = leading query tokens computed (N, or 1 for the class token alone),
// H heads of hd channels, D = H·hd. qkv rows are [q | k | v] (the fused in_proj of OpenAI CLIP).
// The loops live in the backend (kernels/ts/attention.ts is the reference).

import type { Backend } from '../kernels/backend.js';
import type { Float } from '../tensor/tensor.js';

export function attentionForward(
  be: Backend,
  out: Float, att: Float, // (B,nq,D) · (B,H,nq,N) softmax probabilities, kept for backward
  qkv: Float,             // (B,N,3D)
  B: number, N: number, nq: number, H: number, hd: number, causal: boolean): void {
  be.attention(out, att, qkv, B, N, nq, H, hd, causal);
}

// dqkv += the gradient of (q, k, v); datt is scratch the size of att
export function attentionBackward(
  be: Backend,
  dqkv: Float, datt: Float,            // (B,N,3D) ADDED into · (B,H,nq,N) scratch
  dout: Float, att: Float, qkv: Float, // (B,nq,D) (B,H,nq,N) (B,N,3D)
  B: number, N: number, nq: number, H: number, hd: number, causal: boolean): void {
  be.attentionBackward(dqkv, datt, dout, att, qkv, B, N, nq, H, hd, causal);
}
