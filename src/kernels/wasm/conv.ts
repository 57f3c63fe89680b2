// kernels/wasm/conv.ts: nn/conv2d.ts's convolution (NCHW, groups 1) on the wasm backend's kernels, float32, one
// image at a time, as GEMMs on the Linear tiles ("linear_modes" in kernels.wat) over an im2col copy:
//   forward  y_n (O,P) = W (O,Kc) · col_n (Kc,P)       col_n in panels of 8 positions; W read where it lies
//   dx       dcol (Kc,P) = Wᵀ · dy_n, then col2im      Wᵀ rows and dy_n panels, or Wᵀ panels and dy_nᵀ rows
//   dw       dW (O,Kc) += dy_n (O,P) · col_nᵀ          col_n in panels of 8 of its Kc rows
// with Kc = C·kh·kw, P = Ho·Wo. A 1×1 stride-1 unpadded convolution needs no im2col (col_n is x_n) and its dx
// is dcol itself, added straight into dx. By default the forward runs im2col (or for 1×1 the packing) chunk by
// chunk inside the GEMM ("conv_panels" in kernels.wat), each thread into a buffer of its own that stays in its
// core's cache; the backend's option conv: 'im2col' does the whole image first (same bits).
// Each output value is one float32 sum over k in increasing order computed by one tile, so the bits do not
// depend on the number of threads (see kernels.wat).

import type { Float } from '../../tensor/tensor.js';
import { conv2dBackward as tsConv2dBackward, conv2dForward as tsConv2dForward, convOutSize } from '../../nn/conv2d.js';
import type { Kernels } from './api.js';
import type { WasmMemory } from './memory.js';
import type { ThreadPool } from './threads.js';

/** What the convolutions need of the backend for one call: its kernels and threads, and the operands' addresses. */
export interface ConvContext {
  pool: ThreadPool;
  kernels: Kernels;
  mem: WasmMemory;
  input(arr: Float, n: number): number;                      // an input's address (copied in if it lives elsewhere)
  output(arr: Float, n: number, accumulate: boolean): number; // an output's address (copied back at the end)
  weight(arr: Float, n: number): number;                      // a weight's address (its prepared copy, if any)
  scratch(n: number): number;                                 // n floats of scratch for this call
  fused: boolean;                                             // forwards run im2col inside the GEMM (conv_panels)
}

const SMALL = 1 << 17;            // multiply-adds below which a GEMM runs on the calling thread alone
const SMALL_COPY = 1 << 18;       // values below which im2col / col2im run on the calling thread alone
const up8 = (n: number): number => Math.ceil(n / 8) * 8;

// A GEMM of "linear_modes": out = inp (M,K) · w (Nr,K)ᵀ, inp given as its panels xp; mode as kernels.wat.
function gemm(ctx: ConvContext, out: number, w: number, xp: number, bias: number, M: number, K: number, Nr: number,
  mode: number, next: number): void {
  ctx.mem.f32(next, 1)[0] = 0; // the claim counter (the bits of 0.0 are the integer 0)
  ctx.pool.run('linear_modes', [out, w, xp, bias, M, K, Nr, next, mode], Nr, 4, { alone: M * K * Nr < SMALL, claimed: true });
}

// The last panel of 8 (of `cols` columns, `rows` rows each) at xp: zeros.
function zeroLastPanel(ctx: ConvContext, xp: number, cols: number, rows: number): void {
  if (cols % 8 === 0) return;
  const whole = Math.floor(cols / 8) * 8 * rows;
  ctx.mem.f32(xp + 4 * whole, 8 * rows).fill(0);
}

/** y (N,O,Ho,Wo) = conv(x (N,C,H,W), w (O,C,kh,kw)) + b (O): nn/conv2d.ts's conv2dForward in float32. */
export function convForward(
  ctx: ConvContext, y: Float, x: Float, w: Float, b: Float | null,
  N: number, C: number, H: number, W: number, O: number, kh: number, kw: number, stride: number, pad: number): void {
  const Ho = convOutSize(H, kh, stride, pad), Wo = convOutSize(W, kw, stride, pad);
  const P = Ho * Wo, Kc = C * kh * kw;
  if (Ho <= 0 || Wo <= 0 || N * O === 0) return; // no output
  if (Kc === 0) return tsConv2dForward(y, x, w, b, N, C, H, W, O, kh, kw, stride, pad); // no input channels: y = b
  const py = ctx.output(y, N * O * P, false), px = ctx.input(x, N * C * H * W), pw = ctx.weight(w, O * Kc);
  const pb = b ? ctx.input(b, O) : 0;
  const pointwise = kh === 1 && kw === 1 && stride === 1 && pad === 0;
  // im2col inside the GEMM, every image in one call: chunks of positions as linear_modes' for this Kc
  // ($chunk_for: 192 KiB of panels), at most 512 (a thin stem: more chunks to share); each thread's buffer holds
  // one chunk's panels. Blocks of output channels: all of them, or on 2+ threads where the chunks of all the
  // images are too few to share evenly (4 a thread) a smaller block, a multiple of 32 (each block writes its
  // chunk's panels again: 3% of a 7 × 7 layer's time; for a 1×1 layer, whose packing is cheap to do once but a
  // large part of a block's time, x is packed once below instead)
  const threads = ctx.pool.threads, chunk = Math.min(512, Math.max(8, Math.floor(49152 / Kc) & ~7));
  const chunks = N * Math.ceil(P / chunk);
  const blocks = threads > 1 && chunks < 4 * threads ? Math.min(Math.ceil(O / 32), Math.ceil((4 * threads) / chunks)) : 1;
  if (ctx.fused && !(pointwise && blocks > 1)) {
    const block = 32 * Math.ceil(O / 32 / blocks);
    const buf = ctx.scratch(threads * chunk * Kc), next = ctx.scratch(1);
    ctx.mem.f32(next, 1)[0] = 0; // the item counter (the bits of 0.0 are the integer 0)
    ctx.pool.run('conv_panels', [py, pw, px, pb, N, C, H, W, kh, kw, stride, pad, chunk, block, buf, next],
      O, 4, { alone: N * O * Kc * P < SMALL, claimed: true, perThread: { index: 14, base: buf, stride: 4 * chunk * Kc } });
    return;
  }
  const xp = ctx.scratch(up8(P) * Kc), next = ctx.scratch(1);
  zeroLastPanel(ctx, xp, P, Kc); // its lanes past P are never written below: zeros, not stale bits (denormals)
  for (let n = 0; n < N; n++) {
    const xn = px + 4 * n * C * H * W;
    // col_n in panels of 8 positions: xp[q/8][k][q mod 8] = col(k, q)
    if (pointwise) ctx.kernels.pack(xp, xn, 4, 4 * P, C, P);
    else ctx.pool.run('im2col_panels', [xp, xn, C, H, W, kh, kw, stride, pad], Math.ceil(P / 8), 1, { alone: Kc * P < SMALL_COPY });
    // y_n[o][q] = Σ_k W[o][k]·col(k, q) + b[o], stored row by row (mode 1)
    gemm(ctx, py + 4 * n * O * P, pw, xp, pb, P, Kc, O, 1, next);
  }
}

/**
 * dx (N,C,H,W) += the input gradient, dw (O,C,kh,kw) += the weight gradient, db (O) += Σ dy: nn/conv2d.ts's
 * conv2dBackward in float32; each of dx, dw, db may be null.
 */
export function convBackward(
  ctx: ConvContext, dx: Float | null, dw: Float | null, db: Float | null, dy: Float, x: Float, w: Float,
  N: number, C: number, H: number, W: number, O: number, kh: number, kw: number, stride: number, pad: number): void {
  const Ho = convOutSize(H, kh, stride, pad), Wo = convOutSize(W, kw, stride, pad);
  const P = Ho * Wo, Kc = C * kh * kw;
  if (Ho <= 0 || Wo <= 0 || N * O === 0) return; // no output, so nothing to add
  if (Kc === 0) return tsConv2dBackward(dx, dw, db, dy, x, w, N, C, H, W, O, kh, kw, stride, pad); // only db
  const pointwise = kh === 1 && kw === 1 && stride === 1 && pad === 0;
  const pdy = ctx.input(dy, N * O * P), next = ctx.scratch(1);
  if (dx) {
    const pdx = ctx.output(dx, N * C * H * W, true);
    const dcol = pointwise ? 0 : ctx.scratch(Kc * P);
    // Two ways to one product, chosen by which copy is smaller: Kc ≤ P (early layers: few weights, many
    // positions) transposes W once and packs each dy_n with 16-byte copies, and stores rows; else (late
    // layers) W is packed with 16-byte copies and each dy_n transposed. Both give each dcol value as the same
    // float32 sum over o in increasing order.
    const wRows = Kc <= P;
    const wop = ctx.scratch(wRows ? Kc * O : up8(Kc) * O);
    const dop = ctx.scratch(wRows ? up8(P) * O : P * O);
    if (wRows) {
      // Wᵀ (Kc,O) rows
      ctx.pool.run('transpose', [wop, ctx.weight(w, O * Kc), O, Kc], O, 4, { alone: O * Kc < SMALL_COPY });
      zeroLastPanel(ctx, dop, P, O);
    } else {
      // Wᵀ (Kc,O) in panels of 8 of its rows: B(o, k) = W[o][k]
      ctx.kernels.pack(wop, ctx.weight(w, O * Kc), 4, 4 * Kc, O, Kc);
    }
    for (let n = 0; n < N; n++) {
      const dxn = pdx + 4 * n * C * H * W, dyn = pdy + 4 * n * O * P;
      // forward was y_n = W·col_n, so dcol (Kc,P) = Wᵀ·dy_n, added straight into dx_n when col_n is x_n
      if (wRows) {
        // dy_n (O,P) in panels of 8 positions; dcol stored row by row (mode 1, or 3: added)
        ctx.kernels.pack(dop, dyn, 4, 4 * P, O, P);
        gemm(ctx, pointwise ? dxn : dcol, wop, dop, 0, P, O, Kc, pointwise ? 3 : 1, next);
      } else {
        // dy_nᵀ (P,O) rows; dcol stored as the transpose of the product (mode 0, or 2: added)
        ctx.pool.run('transpose', [dop, dyn, O, P], O, 4, { alone: O * P < SMALL_COPY });
        gemm(ctx, pointwise ? dxn : dcol, dop, wop, 0, Kc, O, P, pointwise ? 2 : 0, next);
      }
      // and col_n gathered x_n, so dx_n += col2im(dcol)
      if (!pointwise) ctx.pool.run('col2im', [dxn, dcol, C, H, W, kh, kw, stride, pad], C, 1, { alone: Kc * P < SMALL_COPY });
    }
  }
  if (dw) {
    const pdw = ctx.output(dw, O * Kc, true), px = ctx.input(x, N * C * H * W);
    // col_n in panels of 8 of its rows k: cp[k/8][q][k mod 8] = col(k, q)
    const cp = ctx.scratch(up8(Kc) * P);
    zeroLastPanel(ctx, cp, Kc, P);
    for (let n = 0; n < N; n++) {
      const xn = px + 4 * n * C * H * W;
      if (pointwise) ctx.kernels.pack(cp, xn, 4 * P, 4, P, C);
      else ctx.pool.run('im2col', [cp, xn, C, H, W, kh, kw, stride, pad, 256, 32, 32 * P, 4], Kc, 8, { alone: Kc * P < SMALL_COPY });
      // y_n = W·col_n, so dW[o][k] += Σ_q dy_n[o][q]·col(k, q): dy_n's rows as they lie, stored row by row, added (mode 3)
      gemm(ctx, pdw, pdy + 4 * n * O * P, cp, 0, Kc, P, O, 3, next);
    }
  }
  // db (O) += Σ dy: O(N·O·P), the reference loop
  if (db) tsConv2dBackward(null, null, db, dy, x, w, N, C, H, W, O, kh, kw, stride, pad);
}
