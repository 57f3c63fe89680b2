// nn/attnpool.ts: the attention pooling head of OpenAI's ModifiedResNet (clip/model.py AttentionPool2d):
//   x (B,C,h,w) → tokens [mean over positions; the h·w positions] + positional embedding → q, k, v projections
//   → multi-head attention whose only query is the mean token → c_proj → (B,E)
// as F.multi_head_attention_forward(query = x[:1], key = value = x, separate q/k/v weights, out_proj = c_proj).
// B images, N = 1 + h·w tokens, C channels (= 32·width), H heads of hd = C/H, E output width. The q, k, v
// projections write the fused rows [q | k | v] of nn/attention.ts; the first token is the query (nq = 1).

import type { Backend } from '../kernels/backend.js';
import type { Float } from '../tensor/tensor.js';
import { attentionBackwardOn, attentionOn } from './attention.js';
import { linearBackwardOn, linearOn } from './linear.js';

/** The head's parameters (shapes in the comments). */
export interface AttnpoolParams {
  pos: Float;               // (N,C) positional embedding, the mean token's first
  qW: Float; qB: Float;     // (C,C) (C)
  kW: Float; kB: Float;     // (C,C) (C)
  vW: Float; vB: Float;     // (C,C) (C)
  cW: Float; cB: Float;     // (E,C) (E) c_proj
}

/** What the forward keeps for the backward, and a scratch array. */
export interface AttnpoolActs {
  tok: Float;               // (B,N,C) tokens + positions
  qkv: Float;               // (B,N,3C) [q | k | v] per token
  att: Float;               // (B,H,1,N) the query's softmax probabilities
  ctx: Float;               // (B,1,C) attention output, heads concatenated
  tmp: Float;               // (B·N,C) scratch: one projection at a time
}

/** Sizes: B images, h·w positions, C channels, H heads, E output width. */
export interface AttnpoolDims { B: number; HW: number; C: number; H: number; E: number }

/** The number of elements of each array of AttnpoolActs, in field order. */
export function attnpoolActSizes(d: AttnpoolDims): number[] {
  const N = 1 + d.HW;
  return [d.B * N * d.C, d.B * N * 3 * d.C, d.B * d.H * N, d.B * d.C, d.B * N * d.C];
}

// tmp (B·N,C) → column block `part` (0 q, 1 k, 2 v) of qkv (B·N,3C), or back (toQkv false, added into tmp).
function interleave(qkv: Float, tmp: Float, rows: number, C: number, part: number, toQkv: boolean): void {
  for (let r = 0; r < rows; r++) {
    const o = r * 3 * C + part * C;
    if (toQkv) for (let c = 0; c < C; c++) qkv[o + c] = tmp[r * C + c];
    else for (let c = 0; c < C; c++) tmp[r * C + c] += qkv[o + c];
  }
}

/**
 * out (B,E) = c_proj(attention of the mean token over all tokens); x (B,C,h·w) is read, a's arrays written.
 */
export function attnpoolForward(
  be: Backend, out: Float, a: AttnpoolActs, // (B,E), the kept arrays
  x: Float, p: AttnpoolParams,              // (B,C,h·w)
  d: AttnpoolDims): void {
  const { B, HW, C, H, E } = d;
  const N = 1 + HW;
  // tokens: t_0 = mean over positions, t_{1+i} = x[:, :, i] (NCHW → token rows), then + positions
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const xo = (b * C + c) * HW;
      let s = 0;
      for (let i = 0; i < HW; i++) s += x[xo + i];
      a.tok[b * N * C + c] = s / HW + p.pos[c];
      for (let i = 0; i < HW; i++) a.tok[(b * N + 1 + i) * C + c] = x[xo + i] + p.pos[(1 + i) * C + c];
    }
  }
  // q, k, v projections of every token into the fused rows (keys and values need them all)
  const weights: [Float, Float][] = [[p.qW, p.qB], [p.kW, p.kB], [p.vW, p.vB]];
  weights.forEach(([w, bias], part) => {
    linearOn(be, a.tmp, a.tok, w, bias, B * N, C, C);
    interleave(a.qkv, a.tmp, B * N, C, part, true);
  });
  // the mean token attends to all N tokens; then c_proj
  attentionOn(be, a.ctx, a.att, a.qkv, B, N, 1, H, C / H, false);
  linearOn(be, out, a.ctx, p.cW, p.cB, B, C, E);
}

/**
 * The forward reversed. dx (B,C,h·w) receives dScore/dx (ADDED into); dctx (B,C), dqkv (B,N,3C), dtok (B,N,C)
 * and datt (B,H,1,N) are zeroed scratch; wg: weight gradients (same layout as p, ADDED into) or null.
 */
export function attnpoolBackward(
  be: Backend, dx: Float, scratch: { dctx: Float; dqkv: Float; dtok: Float; datt: Float },
  dout: Float, a: AttnpoolActs, p: AttnpoolParams, // (B,E)
  d: AttnpoolDims, wg: AttnpoolParams | null): void {
  const { B, HW, C, H, E } = d;
  const N = 1 + HW;
  const { dctx, dqkv, dtok, datt } = scratch;
  // out = c_proj(ctx)
  linearBackwardOn(be, dctx, wg && wg.cW, wg && wg.cB, dout, a.ctx, p.cW, B, C, E);
  // ctx = attention(qkv) with the first token as the query
  attentionBackwardOn(be, dqkv, datt, dctx, a.att, a.qkv, B, N, 1, H, C / H, false);
  // qkv = [q | k | v](tok): each projection's rows from the fused gradient, then its backward into dtok
  const weights: [Float, Float, Float | null, Float | null][] = [
    [p.qW, p.qB, wg && wg.qW, wg && wg.qB], [p.kW, p.kB, wg && wg.kW, wg && wg.kB], [p.vW, p.vB, wg && wg.vW, wg && wg.vB]];
  weights.forEach(([w, , dw, db], part) => {
    a.tmp.fill(0);
    interleave(dqkv, a.tmp, B * N, C, part, false);
    linearBackwardOn(be, dtok, dw, db, a.tmp, a.tok, w, B * N, C, C);
  });
  // tok = [mean; x] + pos: dpos += dtok (summed over images); dx += dtok of its own row + dtok of the mean / h·w
  if (wg) for (let b = 0; b < B; b++) for (let i = 0; i < N * C; i++) wg.pos[i] += dtok[b * N * C + i];
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const xo = (b * C + c) * HW;
      const dmean = dtok[b * N * C + c] / HW;
      for (let i = 0; i < HW; i++) dx[xo + i] += dtok[(b * N + 1 + i) * C + c] + dmean;
    }
  }
}
