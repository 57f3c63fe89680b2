// clip/block.ts: one pre-LN residual attention block, as HF CLIPEncoderLayer / OpenAI ResidualAttentionBlock:
//   x → ln_1 → qkv → attention → proj → (+x) = mid → ln_2 → fc → gelu → fc2 → (+mid) = out
// Used by both towers (the text tower with the causal mask). Forward and backward side by side.
// B sequences of N tokens, width D, H heads of hd, MLP width F. After the attention only the first nq tokens
// of each sequence are computed (nq = N, or 1 when only the class token is read), so the arrays from ctx on
// are (B,nq,·). Activations are named views over one buffer; gradients use the same type.
// Every op goes through its nn/ file's …On function (linearOn, attentionOn, layernormOn, activationOn,
// residualOn): the backend's kernel where it has one, else the reference loop beside it.

import type { Backend } from '../kernels/backend.js';
import { attentionBackwardOn, attentionOn } from '../nn/attention.js';
import { activationBackwardOn, activationOn, type Activation } from '../nn/gelu.js';
import { layernormBackward, layernormOn } from '../nn/layernorm.js';
import { linearBackwardOn, linearOn } from '../nn/linear.js';
import { residualBackward, residualOn } from '../nn/residual.js';
import { allocFloat, type DType, type Float } from '../tensor/tensor.js';
import type { BlockParams } from './weights.js';

/**
 * Sizes of one residual block's pass: batch B, tokens N, queries nq (N, or 1 for the class token only), width D,
 * heads H, MLP width F, causal mask, activation and layer-norm eps.
 */
export interface BlockDims {
  B: number; N: number; nq: number; D: number; H: number; F: number;
  causal: boolean; act: Activation; eps: number;
}

/**
 * The activations of one residual block's forward pass (shapes in the field comments), kept for its backward pass.
 */
export interface BlockActs {
  input: Float;                              // (B,N,D) the residual stream entering the block
  ln1: Float; ln1Mean: Float; ln1Rstd: Float; // (B,N,D) (B·N) (B·N)
  qkv: Float;                                // (B,N,3D)
  att: Float;                                // (B,H,nq,N) softmax probabilities
  ctx: Float;                                // (B,nq,D) attention output, heads concatenated
  attn: Float;                               // (B,nq,D) after the output projection
  mid: Float;                                // (B,nq,D) input + attn
  ln2: Float; ln2Mean: Float; ln2Rstd: Float; // (B,nq,D) (B·nq) (B·nq)
  fc: Float;                                 // (B,nq,F) before the activation
  act: Float;                                // (B,nq,F)
  mlp: Float;                                // (B,nq,D) after fc2
  out: Float;                                // (B,nq,D) mid + mlp
}

/**
 * The arrays of one block, as views over one zeroed buffer. `input` and `out` are the residual stream:
 * pass views of the neighbouring blocks' arrays, or null to allocate them here. `alloc` gives the buffer
 * (a Workspace's, so that it lives in the backend's memory); by default a plain typed array.
 */
export function allocBlockActs(
  d: BlockDims, dtype: DType, input: Float | null, out: Float | null,
  alloc: (n: number) => Float = (n) => allocFloat(dtype, n)): BlockActs {
  const { B, N, nq, D, H, F } = d;
  const sizes = {
    input: input ? 0 : B * N * D, ln1: B * N * D, ln1Mean: B * N, ln1Rstd: B * N, qkv: B * N * 3 * D,
    att: B * H * nq * N, ctx: B * nq * D, attn: B * nq * D, mid: B * nq * D, ln2: B * nq * D, ln2Mean: B * nq,
    ln2Rstd: B * nq, fc: B * nq * F, act: B * nq * F, mlp: B * nq * D, out: out ? 0 : B * nq * D,
  };
  const buf = alloc(Object.values(sizes).reduce((a, b) => a + b, 0));
  let o = 0;
  const take = (n: number): Float => buf.subarray(o, (o += n));
  return {
    input: input ?? take(sizes.input), ln1: take(sizes.ln1), ln1Mean: take(sizes.ln1Mean), ln1Rstd: take(sizes.ln1Rstd),
    qkv: take(sizes.qkv), att: take(sizes.att), ctx: take(sizes.ctx), attn: take(sizes.attn), mid: take(sizes.mid),
    ln2: take(sizes.ln2), ln2Mean: take(sizes.ln2Mean), ln2Rstd: take(sizes.ln2Rstd), fc: take(sizes.fc),
    act: take(sizes.act), mlp: take(sizes.mlp), out: out ?? take(sizes.out),
  };
}

// A forward pass whose activations nobody reads afterwards (an embedding only) needs each array only until
// the next step has read it, so arrays whose lifetimes do not overlap share memory — about half the floats
// of allocBlockActs. The regions, in the order blockForward writes them:
//   r1: qkv, then fc      r2: att, then act      r3: ln1, then ctx, then ln2      r4: attn, then mlp      mid
// No step writes a region it reads. forwardScratchSize(d) floats hold the arrays of d and of any smaller nq.
function scratchRegions(d: BlockDims): number[] {
  const { B, N, nq, D, H, F } = d;
  return [Math.max(B * N * 3 * D, B * nq * F), Math.max(B * H * nq * N, B * nq * F), B * N * D, B * nq * D, B * nq * D,
    B * N, B * N, B * nq, B * nq]; // + the layer norms' mean and rstd
}

/** The number of elements forwardScratch needs for one block of these sizes. */
export function forwardScratchSize(d: BlockDims): number {
  return scratchRegions(d).reduce((a, b) => a + b, 0);
}

/**
 * The arrays of one block as such shared views of buf; input and out are the residual stream (B,N,D) (B,nq,D).
 */
export function forwardScratch(d: BlockDims, buf: Float, input: Float, out: Float): BlockActs {
  const { B, N, nq, D, H, F } = d;
  let o = 0;
  const [r1, r2, r3, r4, mid, ln1Mean, ln1Rstd, ln2Mean, ln2Rstd] = scratchRegions(d).map((n) => buf.subarray(o, (o += n)));
  return {
    input, ln1: r3.subarray(0, B * N * D), ln1Mean, ln1Rstd, qkv: r1.subarray(0, B * N * 3 * D),
    att: r2.subarray(0, B * H * nq * N), ctx: r3.subarray(0, B * nq * D), attn: r4, mid,
    ln2: r3.subarray(0, B * nq * D), ln2Mean, ln2Rstd, fc: r1.subarray(0, B * nq * F), act: r2.subarray(0, B * nq * F),
    mlp: r4, out,
  };
}

/**
 * One pre-LN residual block forward on the backend: ln_1 → attention (first nq queries) → residual → ln_2 → MLP →
 * residual, writing every activation into a.
 */
export function blockForward(be: Backend, a: BlockActs, p: BlockParams, d: BlockDims): void {
  const { B, N, nq, D, H, F } = d;
  // x → ln_1 → qkv over every token (keys and values need them all)
  layernormOn(be, a.ln1, a.ln1Mean, a.ln1Rstd, a.input, p.ln1W, p.ln1B, B * N, D, d.eps);
  linearOn(be, a.qkv, a.ln1, p.qkvW, p.qkvB, B * N, D, 3 * D);
  // attention for the first nq queries, then the output projection
  attentionOn(be, a.ctx, a.att, a.qkv, B, N, nq, H, D / H, d.causal);
  linearOn(be, a.attn, a.ctx, p.projW, p.projB, B * nq, D, D);
  residualOn(be, a.mid, a.input, a.attn, B, N, nq, D);
  // mid → ln_2 → fc → gelu → fc2, + mid
  layernormOn(be, a.ln2, a.ln2Mean, a.ln2Rstd, a.mid, p.ln2W, p.ln2B, B * nq, D, d.eps);
  linearOn(be, a.fc, a.ln2, p.fcW, p.fcB, B * nq, D, F);
  activationOn(be, d.act, a.act, a.fc, B * nq * F);
  linearOn(be, a.mlp, a.act, p.fc2W, p.fc2B, B * nq, F, D);
  residualOn(be, a.out, a.mid, a.mlp, B, nq, nq, D);
}

/**
 * Where backward may stop: the gradient at that activation is then complete (in g.mlp, g.ln2, g.mid, g.ln1 or
 * g.input; 'attn' and 'mid' share g.mid, as mid = input + attn).
 */
export type BlockStop = 'mlp' | 'ln_2' | 'mid' | 'attn' | 'ln_1' | 'input';

/**
 * The forward list reversed. g holds the gradients: g.out is dScore/dout (B,nq,D), every other array is
 * zeroed by the caller and ADDED into (g.input (B,N,D) receives dScore/dinput). wg: weight gradients, or null.
 */
export function blockBackward(
  be: Backend, g: BlockActs, a: BlockActs, p: BlockParams, d: BlockDims, wg: BlockParams | null, stop: BlockStop): void {
  const { B, N, nq, D, H, F } = d;
  // out = mid + mlp: dmid += dout, dmlp += dout
  residualBackward(g.mid, g.mlp, g.out, B, nq, nq, D);
  if (stop === 'mlp') return;
  // mlp = fc2(act), act = gelu(fc), fc = fc1(ln2)
  linearBackwardOn(be, g.act, wg && wg.fc2W, wg && wg.fc2B, g.mlp, a.act, p.fc2W, B * nq, F, D);
  activationBackwardOn(be, d.act, g.fc, g.act, a.fc, B * nq * F);
  linearBackwardOn(be, g.ln2, wg && wg.fcW, wg && wg.fcB, g.fc, a.ln2, p.fcW, B * nq, D, F);
  if (stop === 'ln_2') return;
  // ln2 = LN(mid): completes dmid
  layernormBackward(g.mid, wg && wg.ln2W, wg && wg.ln2B, g.ln2, a.mid, p.ln2W, a.ln2Mean, a.ln2Rstd, B * nq, D);
  if (stop === 'mid' || stop === 'attn') return;
  // mid = input + attn: dinput += dmid, dattn += dmid
  residualBackward(g.input, g.attn, g.mid, B, N, nq, D);
  // attn = proj(ctx), ctx = attention(qkv), qkv = Linear(ln1)
  linearBackwardOn(be, g.ctx, wg && wg.projW, wg && wg.projB, g.attn, a.ctx, p.projW, B * nq, D, D);
  attentionBackwardOn(be, g.qkv, g.att, g.ctx, a.att, a.qkv, B, N, nq, H, D / H, d.causal);
  linearBackwardOn(be, g.ln1, wg && wg.qkvW, wg && wg.qkvB, g.qkv, a.ln1, p.qkvW, B * N, D, 3 * D);
  if (stop === 'ln_1') return;
  // ln1 = LN(input): completes dinput
  layernormBackward(g.input, wg && wg.ln1W, wg && wg.ln1B, g.ln1, a.input, p.ln1W, a.ln1Mean, a.ln1Rstd, B * N, D);
}
