// nn/attention.ts: the attention core of a transformer block, softmax(q·kᵀ/√hd)·v over H heads,
// as torch.nn.MultiheadAttention / HF CLIPAttention between their input and output projections (Linear layers).
// B = images (or texts), N = tokens, H heads of hd channels, D = H·hd. qkv (B,N,3D): for each token the row
// [q | k | v] (the fused in_proj of OpenAI CLIP), head h in columns h·hd…(h+1)·hd of each part. Only the first
// nq query tokens of each image are computed (N, or 1 for the class token alone); keys and values always cover
// all N tokens. causal: query t sees keys 0…t (the text tower's mask). attentionForward / attentionBackward are
// the reference loops; attentionOn / attentionBackwardOn run them on a backend's kernels.

import type { Backend } from '../kernels/backend.js';
import type { Float } from '../tensor/tensor.js';

/**
 * Multi-head attention forward (reference loops): out (B,nq,D) = softmax(q·kᵀ/√hd)·v for the first nq queries of
 * qkv (B,N,3D), keeping the probabilities att (B,H,nq,N); causal masks keys after each query.
 */
export function attentionForward(
  out: Float, att: Float, // (B,nq,D) output · (B,H,nq,N) softmax probabilities, kept for backward
  qkv: Float,             // (B,N,3D)
  B: number, N: number, nq: number, H: number, hd: number, causal: boolean): void {
  const D = H * hd;
  const scale = 1 / Math.sqrt(hd);
  for (let b = 0; b < B; b++) {
    const base = b * N * 3 * D;
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < nq; t++) {
        const q = base + t * 3 * D + h * hd;      // this query's slice
        const a = ((b * H + h) * nq + t) * N;     // this row of att
        const seen = causal ? t + 1 : N;          // keys this query attends to
        // scores s_j = q·k_j / √hd, then a numerically safe softmax (subtract the row max)
        let max = -Infinity;
        for (let j = 0; j < seen; j++) {
          const k = base + j * 3 * D + D + h * hd;
          let s = 0;
          for (let d = 0; d < hd; d++) s += qkv[q + d] * qkv[k + d];
          att[a + j] = s * scale;
          if (att[a + j] > max) max = att[a + j];
        }
        let sum = 0;
        for (let j = 0; j < seen; j++) {
          const e = Math.exp(att[a + j] - max);
          att[a + j] = e;
          sum += e;
        }
        for (let j = 0; j < seen; j++) att[a + j] = att[a + j] / sum;
        for (let j = seen; j < N; j++) att[a + j] = 0; // masked keys: exp(−∞) = 0
        // out_t = Σ_j att_j · v_j
        const o = (b * nq + t) * D + h * hd;
        for (let d = 0; d < hd; d++) {
          let s = 0;
          for (let j = 0, v = base + 2 * D + h * hd + d; j < seen; j++, v += 3 * D) s += att[a + j] * qkv[v];
          out[o + d] = s;
        }
      }
    }
  }
}

/**
 * forward was s = q·kᵀ/√hd, att = softmax(s), out = att·v; so, per query row t:
 *   datt_j = dout·v_j,   dv_j += att_j·dout
 *   ds_j = att_j·(datt_j − Σ_i att_i·datt_i)            (softmax backward)
 *   dq += Σ_j ds_j·k_j/√hd,   dk_j += ds_j·q/√hd
 */
export function attentionBackward(
  dqkv: Float, datt: Float,          // (B,N,3D) ADDED into · (B,H,nq,N) scratch, overwritten
  dout: Float, att: Float, qkv: Float, // (B,nq,D) (B,H,nq,N) (B,N,3D)
  B: number, N: number, nq: number, H: number, hd: number, causal: boolean): void {
  const D = H * hd;
  const scale = 1 / Math.sqrt(hd);
  for (let b = 0; b < B; b++) {
    const base = b * N * 3 * D;
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < nq; t++) {
        const q = base + t * 3 * D + h * hd;
        const a = ((b * H + h) * nq + t) * N;
        const o = (b * nq + t) * D + h * hd;
        const seen = causal ? t + 1 : N;
        // out = att·v: datt_j = dout·v_j and dv_j += att_j·dout
        let dot = 0;
        for (let j = 0; j < seen; j++) {
          const v = base + j * 3 * D + 2 * D + h * hd;
          let s = 0;
          for (let d = 0; d < hd; d++) {
            s += dout[o + d] * qkv[v + d];
            dqkv[v + d] += att[a + j] * dout[o + d];
          }
          datt[a + j] = s;
          dot += att[a + j] * s;
        }
        // att = softmax(s): ds_j = att_j·(datt_j − Σ att·datt), kept in datt
        for (let j = 0; j < seen; j++) datt[a + j] = att[a + j] * (datt[a + j] - dot);
        for (let j = seen; j < N; j++) datt[a + j] = 0;
        // s_j = q·k_j/√hd: dq += Σ_j ds_j·k_j/√hd and dk_j += ds_j·q/√hd
        for (let d = 0; d < hd; d++) {
          let s = 0;
          for (let j = 0, k = base + D + h * hd + d; j < seen; j++, k += 3 * D) s += datt[a + j] * qkv[k];
          dqkv[q + d] += s * scale;
        }
        for (let j = 0; j < seen; j++) {
          const k = base + j * 3 * D + D + h * hd;
          const g = datt[a + j] * scale;
          for (let d = 0; d < hd; d++) dqkv[k + d] += g * qkv[q + d];
        }
      }
    }
  }
}

/**
 * attentionForward on a backend: its kernel (tsBackend's is attentionForward itself; another matches it within
 * the float32 tolerance it states).
 */
export function attentionOn(
  be: Backend, out: Float, att: Float, qkv: Float,
  B: number, N: number, nq: number, H: number, hd: number, causal: boolean): void {
  be.attention(out, att, qkv, B, N, nq, H, hd, causal);
}

/**
 * attentionBackward on a backend, likewise.
 */
export function attentionBackwardOn(
  be: Backend, dqkv: Float, datt: Float, dout: Float, att: Float, qkv: Float,
  B: number, N: number, nq: number, H: number, hd: number, causal: boolean): void {
  be.attentionBackward(dqkv, datt, dout, att, qkv, B, N, nq, H, hd, causal);
}
