// nn/embed.ts: the ViT input — patch embedding, class token, positional embedding — as HF CLIPVisionEmbeddings
// (OpenAI: conv1, class_embedding, positional_embedding). The stride-P convolution without bias is a Linear
// layer over non-overlapping patches: patchify (im2col) then linearForward with the conv weight (D, C·P·P).
// B images, C colour channels, image Hi × Wi pixels, P patch, grid gh × gw, N = 1 + gh·gw tokens, D width.
// Token order is the conv output flattened row-major over the grid, after the class token at index 0.

import type { Float } from '../tensor/tensor.js';

/**
 * patches (B, gh·gw, C·P·P): patch (i, j) of image b, its values in the conv weight's (c, ky, kx) order
 */
export function patchify(
  patches: Float, pixels: Float, // (B, gh·gw, C·P·P) · (B, C, Hi, Wi)
  B: number, C: number, Hi: number, Wi: number, P: number): void {
  const gh = Math.floor(Hi / P);
  const gw = Math.floor(Wi / P);
  let o = 0;
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < gh; i++) {
      for (let j = 0; j < gw; j++) {
        for (let c = 0; c < C; c++) {
          for (let y = 0; y < P; y++) {
            const row = ((b * C + c) * Hi + i * P + y) * Wi + j * P;
            for (let x = 0; x < P; x++) patches[o++] = pixels[row + x];
          }
        }
      }
    }
  }
}

/**
 * forward copied each pixel into one patch slot, so dpixels += that slot's gradient
 */
export function patchifyBackward(
  dpixels: Float, dpatches: Float, // (B, C, Hi, Wi) ADDED into · (B, gh·gw, C·P·P)
  B: number, C: number, Hi: number, Wi: number, P: number): void {
  const gh = Math.floor(Hi / P);
  const gw = Math.floor(Wi / P);
  let o = 0;
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < gh; i++) {
      for (let j = 0; j < gw; j++) {
        for (let c = 0; c < C; c++) {
          for (let y = 0; y < P; y++) {
            const row = ((b * C + c) * Hi + i * P + y) * Wi + j * P;
            for (let x = 0; x < P; x++) dpixels[row + x] += dpatches[o++];
          }
        }
      }
    }
  }
}

/**
 * out[b, 0] = cls + pos[0];  out[b, 1 + p] = patchEmb[b, p] + pos[1 + p]
 */
export function embedForward(
  out: Float,                        // (B,N,D)
  patchEmb: Float, cls: Float, pos: Float, // (B,N−1,D) (D) (N,D)
  B: number, N: number, D: number): void {
  for (let b = 0; b < B; b++) {
    const o = b * N * D;
    for (let c = 0; c < D; c++) out[o + c] = cls[c] + pos[c];
    const p = b * (N - 1) * D;
    for (let i = 0; i < (N - 1) * D; i++) out[o + D + i] = patchEmb[p + i] + pos[D + i];
  }
}

/**
 * forward was a sum, so each term's gradient is dout: dcls += Σ_b dout[b,0], dpos += Σ_b dout[b]
 */
export function embedBackward(
  dpatchEmb: Float | null, dcls: Float | null, dpos: Float | null, // (B,N−1,D) (D) (N,D) ADDED into; null skips
  dout: Float,                                                     // (B,N,D)
  B: number, N: number, D: number): void {
  for (let b = 0; b < B; b++) {
    const o = b * N * D;
    if (dcls) for (let c = 0; c < D; c++) dcls[c] += dout[o + c];
    if (dpos) for (let i = 0; i < N * D; i++) dpos[i] += dout[o + i];
    if (dpatchEmb) {
      const p = b * (N - 1) * D;
      for (let i = 0; i < (N - 1) * D; i++) dpatchEmb[p + i] += dout[o + D + i];
    }
  }
}

/**
 * The text tower's input: out[t] = token[ids[t]] + pos[t] for one sequence of T ids (ids already validated).
 * (No backward: DecomCAM differentiates the image side only.)
 */
export function tokenEmbedForward(
  out: Float,                               // (T,D)
  ids: Int32Array, token: Float, pos: Float, // (T) (V,D) (≥T,D)
  T: number, D: number): void {
  for (let t = 0; t < T; t++) {
    const e = ids[t] * D;
    for (let c = 0; c < D; c++) out[t * D + c] = token[e + c] + pos[t * D + c];
  }
}
