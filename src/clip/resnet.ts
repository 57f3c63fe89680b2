// clip/resnet.ts: the ResNet image tower of CLIP, forward and hand-written backward, as openai/CLIP's
// ModifiedResNet (model.py) with BatchNorm in eval mode:
//   pixels → stem (3×3 s2 conv, BN, ReLU; 3×3 conv, BN, ReLU; 3×3 conv, BN, ReLU; AvgPool 2) → layer1..layer4
//   (Bottlenecks) → attention pool → (B,E)
// Bottleneck: 1×1 conv, BN, ReLU → 3×3 conv, BN, ReLU → AvgPool(stride) → 1×1 conv, BN → + identity → ReLU, where
// identity = x, or AvgPool(stride) → 1×1 conv → BN on a stage's first block (the anti-aliased downsampling).
// Activations are NCHW and named 'visual.stem', 'visual.layer3.1', 'visual.layer4' (= its last block's output).
// Letters: B images, S image side, C channels, H × W a map's size; g = S/32 the layer4 grid; E embedding.

import { fail } from '../errors.js';
import type { Backend } from '../kernels/backend.js';
import { Workspace } from '../kernels/workspace.js';
import { attnpoolActSizes, attnpoolBackward, attnpoolForward, type AttnpoolActs, type AttnpoolDims } from '../nn/attnpool.js';
import { avgpoolBackward, avgpoolOn } from '../nn/avgpool.js';
import { batchnormActOn, batchnormBackward } from '../nn/batchnorm.js';
import { conv2dBackwardOn, conv2dOn, convOutSize } from '../nn/conv2d.js';
import { reluBackward } from '../nn/relu.js';
import { residualBackward } from '../nn/residual.js';
import { allocFloat, dtypeOf, shapeString, tensor, type Float, type Tensor } from '../tensor/tensor.js';
import type { ClipConfig, ResnetConfig } from './config.js';
import type { ClipModel } from './model.js';
import { bottleneckShapes, resnetParams, type BnParams, type BottleneckParams, type BottleneckShape, type ResnetParams } from './resnet_weights.js';
import type { Params } from './weights.js';

/** The official DecomCAM target on a ResNet: `model.visual.layer4[-1]`, the last bottleneck's output. */
export const RESNET_DEFAULT_LAYER = 'visual.layer4';

// ---- layer names --------------------------------------------------------------------------------------

/** A layer of the tower: the pixels, the stem's output, or bottleneck `block` (counted over all stages). */
interface RnLayer { name: string; block: number } // block: −2 pixels, −1 stem, else 0…L−1

// Where each stage's blocks start in the global count.
function stageStarts(r: ResnetConfig): number[] {
  const starts: number[] = [];
  let n = 0;
  for (const c of r.layers) { starts.push(n); n += c; }
  return starts;
}

function resnetOf(config: ClipConfig): ResnetConfig {
  if (!config.resnet) fail('not a ResNet CLIP configuration');
  return config.resnet;
}

function parseLayer(config: ClipConfig, layer: string): RnLayer {
  const r = resnetOf(config);
  const ranges = r.layers.map((c, s) => `layer${s + 1}: 0-${c - 1}`).join(', ');
  const valid = `valid layers: visual.pixels, visual.stem, visual.layer1-visual.layer4 (a stage's last bottleneck; ` +
    `${RESNET_DEFAULT_LAYER} is the official default) and visual.layerS.N (${ranges}; negative N counts from the end)`;
  if (layer === 'visual.pixels') return { name: layer, block: -2 };
  if (layer === 'visual.stem') return { name: layer, block: -1 };
  const m = /^visual\.layer(\d+)(?:\.(-?\d+))?$/.exec(layer);
  if (!m) fail(`layer "${layer}" not recognised for this ResNet CLIP; ${valid}`, 'usage');
  const s = Number(m[1]);
  if (s < 1 || s > 4) fail(`layer "${layer}" not found: this ResNet has stages layer1-layer4 (try ${RESNET_DEFAULT_LAYER}); ${valid}`, 'usage');
  const count = r.layers[s - 1];
  const start = stageStarts(r)[s - 1];
  if (m[2] === undefined) return { name: `visual.layer${s}`, block: start + count - 1 };
  let n = Number(m[2]);
  if (n < -count || n >= count) {
    fail(`layer "${layer}" not found: visual.layer${s} has bottlenecks 0-${count - 1} (try visual.layer${s}.${count - 1}); ${valid}`, 'usage');
  }
  if (n < 0) n += count;
  return { name: `visual.layer${s}.${n}`, block: start + n };
}

/** The canonical name of a ResNet layer ('visual.layer4.-1' → 'visual.layer4.2'); an error lists the valid ones. */
export function resnetResolveLayer(config: ClipConfig, layer: string): string {
  return parseLayer(config, layer).name;
}

/** Every block's sizes in global order, with its input and output map sides (square maps of side H). */
interface BlockPlan extends BottleneckShape { stage: number; index: number; H: number; Ho: number }

function blockPlans(config: ClipConfig): { stemH1: number; stemH: number; blocks: BlockPlan[] } {
  const r = resnetOf(config);
  const S = config.vision.imageSize;
  const stemH1 = convOutSize(S, 3, 2, 1);  // after the stride-2 conv
  const stemH = Math.floor(stemH1 / 2);     // after AvgPool(2)
  const blocks: BlockPlan[] = [];
  let H = stemH;
  bottleneckShapes(r).forEach((stage, s) => stage.forEach((b, i) => {
    const Ho = Math.floor(H / b.stride);
    blocks.push({ ...b, stage: s, index: i, H, Ho });
    H = Ho;
  }));
  return { stemH1, stemH, blocks };
}

/** The (h, w, C) of a layer's map (the CAM grid): e.g. visual.layer4 of RN50 at 224 is 7 × 7 × 2048. */
export function resnetLayerGrid(config: ClipConfig, layer: string): { h: number; w: number; C: number } {
  const l = parseLayer(config, layer);
  const { stemH, blocks } = blockPlans(config);
  if (l.block === -2) return { h: config.vision.imageSize, w: config.vision.imageSize, C: 3 };
  if (l.block === -1) return { h: stemH, w: stemH, C: resnetOf(config).width };
  const b = blocks[l.block];
  return { h: b.Ho, w: b.Ho, C: 4 * b.planes };
}

// ---- forward --------------------------------------------------------------------------------------------

/** One conv → BN → ReLU step's kept arrays: the conv's output and the ReLU's (BN is applied in place before it). */
interface ConvBnRelu { c: Float; r: Float }

/** A bottleneck's kept arrays (NCHW; planes p, output 4p; H the input side, Ho = H/stride). */
export interface BottleneckActs {
  input: Float;           // (B,in,H,H) the previous block's output
  s1: ConvBnRelu;         // (B,p,H,H) conv1 and relu1
  s2: ConvBnRelu;         // (B,p,H,H) conv2 and relu2
  pool: Float;            // (B,p,Ho,Ho) AvgPool(stride) of s2.r (s2.r itself when stride is 1)
  c3: Float;              // (B,4p,Ho,Ho) conv3
  downPool: Float | null; // (B,in,Ho,Ho) the downsample's AvgPool (the input itself when stride is 1)
  downConv: Float | null; // (B,4p,Ho,Ho) its 1×1 conv
  identity: Float;        // (B,4p,Ho,Ho) BN of downConv, or the input
  out: Float;             // (B,4p,Ho,Ho) relu(bn3(c3) + identity)
}

/** The stem's kept arrays (S1 = S/2 after the stride-2 conv). */
export interface StemActs {
  s1: ConvBnRelu; s2: ConvBnRelu; // (B,w/2,S1,S1)
  s3: ConvBnRelu;                 // (B,w,S1,S1)
  pool: Float;                    // (B,w,S1/2,S1/2) the stem's output, 'visual.stem'
}

/** The activations of one ResNet forward pass, kept for getActivation and the backward. */
export interface ResnetRun {
  kind: 'resnet';
  config: ClipConfig;
  B: number;
  firstKept: number;               // the first block kept (−2: everything, pixels and stem too)
  pixels: Float;                   // (B,3,S,S)
  stem: StemActs | null;           // null where not kept
  blocks: (BottleneckActs | null)[];
  pool: AttnpoolActs;              // the attention pool's (always kept: it is small)
  embeddings: Tensor;              // (B,E) (a plain array: valid after release)
  acts: Map<string, Tensor>;       // every kept activation by name (views)
  workspace: Workspace;
}

// alloc: n zeros; out: n values of any kind, for an output that a kernel writes whole (no clearing pass)
interface Ctx { be: Backend; B: number; eps: number; alloc: (n: number) => Float; out: (n: number) => Float }

// conv (k×k, stride, pad k>1 ? 1 : 0, no bias) → BN → ReLU, into freshly allocated arrays.
function convBnRelu(x: Ctx, inp: Float, w: Float, bn: BnParams, Cin: number, Cout: number, H: number, stride: number): ConvBnRelu {
  const k = Math.round(Math.sqrt(w.length / (Cin * Cout)));
  const pad = k > 1 ? 1 : 0;
  const Ho = convOutSize(H, k, stride, pad);
  const n = x.B * Cout * Ho * Ho;
  const c = x.out(n), r = x.out(n);
  conv2dOn(x.be, c, inp, w, null, x.B, Cin, H, H, Cout, k, k, stride, pad);
  batchnormActOn(x.be, r, c, bn.w, bn.b, bn.mean, bn.variance, x.B, Cout, Ho * Ho, x.eps, null, true);
  return { c, r };
}

function stemForward(x: Ctx, pixels: Float, p: ResnetParams['stem'], w: number, S: number, S1: number): StemActs {
  const h = w / 2;
  const s1 = convBnRelu(x, pixels, p.conv1, p.bn1, 3, h, S, 2);
  const s2 = convBnRelu(x, s1.r, p.conv2, p.bn2, h, h, S1, 1);
  const s3 = convBnRelu(x, s2.r, p.conv3, p.bn3, h, w, S1, 1);
  const pool = x.out(x.B * w * Math.floor(S1 / 2) ** 2);
  avgpoolOn(x.be, pool, s3.r, x.B * w, S1, S1, 2);
  return { s1, s2, s3, pool };
}

function bottleneckForward(x: Ctx, input: Float, p: BottleneckParams, b: BlockPlan): BottleneckActs {
  const { B } = x;
  const { inplanes: Ci, planes: P, stride, H, Ho } = b;
  const Co = 4 * P;
  const n = B * Co * Ho * Ho;
  // conv1 → bn1 → relu1 → conv2 → bn2 → relu2 → avgpool(stride)
  const s1 = convBnRelu(x, input, p.conv1, p.bn1, Ci, P, H, 1);
  const s2 = convBnRelu(x, s1.r, p.conv2, p.bn2, P, P, H, 1);
  let pool = s2.r;
  if (stride > 1) {
    pool = x.out(B * P * Ho * Ho);
    avgpoolOn(x.be, pool, s2.r, B * P, H, H, stride);
  }
  // conv3
  const c3 = x.out(n);
  conv2dOn(x.be, c3, pool, p.conv3, null, B, P, Ho, Ho, Co, 1, 1, 1, 0);
  // identity: the input, or avgpool(stride) → 1×1 conv → BN
  let downPool: Float | null = null, downConv: Float | null = null, identity = input;
  if (p.down) {
    downPool = input;
    if (stride > 1) {
      downPool = x.out(B * Ci * Ho * Ho);
      avgpoolOn(x.be, downPool, input, B * Ci, H, H, stride);
    }
    downConv = x.out(n);
    identity = x.out(n);
    conv2dOn(x.be, downConv, downPool, p.down.conv, null, B, Ci, Ho, Ho, Co, 1, 1, 1, 0);
    batchnormActOn(x.be, identity, downConv, p.down.bn.w, p.down.bn.b, p.down.bn.mean, p.down.bn.variance, B, Co, Ho * Ho, x.eps, null, false);
  }
  // out = relu3(bn3(c3) + identity)
  const out = x.out(n);
  batchnormActOn(x.be, out, c3, p.bn3.w, p.bn3.b, p.bn3.mean, p.bn3.variance, B, Co, Ho * Ho, x.eps, identity, true);
  return { input, s1, s2, pool, c3, downPool, downConv, identity, out };
}

// The first block whose arrays are kept for these layers (−2: all, −1: from the stem on); keep omitted = all.
function planKeep(config: ClipConfig, keep: string[] | undefined): number {
  if (keep === undefined) return -2;
  let first = config.vision.layers; // nothing kept: an embedding only
  for (const name of keep) first = Math.min(first, parseLayer(config, name).block);
  return first;
}

/**
 * The ResNet forward pass. keep: the layers the caller will read or differentiate (omitted = all). Blocks before
 * the first kept layer run on arrays that are given back as soon as the next block has read them.
 */
export function resnetForward(model: ClipModel, pixels: Tensor, opts: { keep?: string[] } = {}): ResnetRun {
  const { config, backend: be, dtype } = model;
  const r = resnetOf(config);
  const rp = model.resnet;
  if (!rp) fail(`model ${model.source} has a ResNet configuration but no ResNet parameters`);
  const S = config.vision.imageSize, E = config.embedDim, C = config.vision.width;
  if (pixels.shape.length !== 4 || pixels.shape[1] !== 3 || pixels.shape[2] !== S || pixels.shape[3] !== S) {
    fail(`pixels have shape ${shapeString(pixels.shape)}, expected [B, 3, ${S}, ${S}] for this model (preprocess the image to ${S}×${S})`, 'usage');
  }
  const B = pixels.shape[0];
  if (B < 1) fail('pixels hold no image (batch size 0)', 'usage');
  const firstKept = planKeep(config, opts.keep);
  const { stemH1, blocks: plans } = blockPlans(config);
  const L = plans.length;
  const acts = new Map<string, Tensor>();
  const ws = new Workspace(be, dtype);
  // unit u (−1 stem, 0…L−1 blocks, L the attention pool) allocates from the run's workspace when kept, else from
  // its own, given back once unit u + 1 has read its output
  const temps: Workspace[] = [];
  const ctxFor = (u: number): Ctx => {
    const kept = u >= firstKept;
    const w = kept ? ws : new Workspace(be, dtype);
    if (!kept) temps.push(w);
    return { be, B, eps: config.vision.eps, alloc: (n) => w.alloc(n), out: (n) => w.alloc(n, false) };
  };
  const dropBefore = (): void => { while (temps.length > 1) (temps.shift() as Workspace).release(); };
  const px = dtypeOf(pixels.data) === dtype ? pixels.data : dtype === 'float64' ? Float64Array.from(pixels.data) : Float32Array.from(pixels.data);
  if (firstKept <= -2) acts.set('visual.pixels', tensor(px, pixels.shape));

  try {
    const stem = stemForward(ctxFor(-1), px, rp.stem, r.width, S, stemH1);
    const stemH = Math.floor(stemH1 / 2);
    if (firstKept <= -1) acts.set('visual.stem', tensor(stem.pool, [B, r.width, stemH, stemH]));
    const blocks: (BottleneckActs | null)[] = [];
    let stream = stem.pool;
    const last = new Set(stageStarts(r).map((s, i) => s + r.layers[i] - 1));
    plans.forEach((b, g) => {
      const a = bottleneckForward(ctxFor(g), stream, rp.layers[b.stage][b.index], b);
      dropBefore();
      const kept = g >= firstKept;
      blocks.push(kept ? a : null);
      if (kept) {
        const t = tensor(a.out, [B, 4 * b.planes, b.Ho, b.Ho]);
        acts.set(`visual.layer${b.stage + 1}.${b.index}`, t);
        if (last.has(g)) acts.set(`visual.layer${b.stage + 1}`, t);
      }
      stream = a.out;
    });
    // the attention pool on the layer4 map
    const g4 = plans[L - 1].Ho;
    const d: AttnpoolDims = { B, HW: g4 * g4, C, H: config.vision.heads, E };
    const pc = ctxFor(L);
    const [tok, qkv, att, ctx, tmp] = attnpoolActSizes(d).map((n) => pc.alloc(n));
    const pool: AttnpoolActs = { tok, qkv, att, ctx, tmp };
    const emb = allocFloat(dtype, B * E);
    attnpoolForward(be, emb, pool, stream, rp.attnpool, d);
    acts.set('vision.embeds', tensor(emb, [B, E]));
    return {
      kind: 'resnet', config, B, firstKept, pixels: px, stem: firstKept <= -1 ? stem : null, blocks,
      pool, embeddings: tensor(emb, [B, E]), acts, workspace: ws,
    };
  } finally {
    for (const w of temps) w.release();
  }
}

/**
 * An activation by layer name (NCHW), or 'vision.embeds'; it must have been kept by the forward pass.
 */
export function resnetActivation(run: ResnetRun, layer: string): Tensor {
  if (run.workspace.released) {
    fail(`getActivation("${layer}"): this forward pass was released (releaseRun), so its activations are gone: run visionForward again`, 'usage');
  }
  const key = run.acts.has(layer) ? layer : parseLayer(run.config, layer).name;
  const t = run.acts.get(key);
  if (!t) fail(`activation "${key}" was not kept by this forward pass: pass { keep: ['${key}'] } to visionForward`, 'usage');
  return t;
}

// ---- backward -------------------------------------------------------------------------------------------

// dx (B,Cin,H,H) += the gradient through conv → BN → ReLU, given dr at the ReLU's output; dbn is zeroed scratch
// the size of the output; weight gradients into wconv / wbn where given.
function convBnReluBackward(
  x: Ctx, dx: Float | null, dr: Float, s: ConvBnRelu, inp: Float, w: Float, bn: BnParams,
  Cin: number, Cout: number, H: number, stride: number, wconv: Float | null, wbn: BnParams | null): void {
  const k = Math.round(Math.sqrt(w.length / (Cin * Cout)));
  const pad = k > 1 ? 1 : 0;
  const Ho = convOutSize(H, k, stride, pad);
  const n = x.B * Cout * Ho * Ho;
  // r = relu(bn(c)): dbn = dr where r > 0, then dc = dbn·w/√(var + eps)
  const dbn = x.alloc(n);
  reluBackward(dbn, dr, s.r, n);
  const dc = x.alloc(n);
  batchnormBackward(dc, wbn && wbn.w, wbn && wbn.b, dbn, s.c, bn.w, bn.mean, bn.variance, x.B, Cout, Ho * Ho, x.eps);
  // c = conv(inp)
  if (dx || wconv) conv2dBackwardOn(x.be, dx, wconv, null, dc, inp, w, x.B, Cin, H, H, Cout, k, k, stride, pad);
}

// The bottleneck reversed: dinput (B,in,H,H) += the gradient of dout (B,4p,Ho,Ho).
function bottleneckBackward(
  x: Ctx, dinput: Float | null, dout: Float, a: BottleneckActs, p: BottleneckParams, b: BlockPlan, wg: BottleneckParams | null): void {
  const { B } = x;
  const { inplanes: Ci, planes: P, stride, H, Ho } = b;
  const Co = 4 * P;
  const n = B * Co * Ho * Ho;
  // out = relu(bn3(c3) + identity): dsum = dout where out > 0; dbn3 = didentity = dsum
  const dsum = x.alloc(n);
  reluBackward(dsum, dout, a.out, n);
  // bn3(c3), c3 = conv3(pool)
  const dc3 = x.alloc(n);
  batchnormBackward(dc3, wg && wg.bn3.w, wg && wg.bn3.b, dsum, a.c3, p.bn3.w, p.bn3.mean, p.bn3.variance, B, Co, Ho * Ho, x.eps);
  const dpool = x.alloc(B * P * Ho * Ho);
  conv2dBackwardOn(x.be, dpool, wg && wg.conv3, null, dc3, a.pool, p.conv3, B, P, Ho, Ho, Co, 1, 1, 1, 0);
  // pool = avgpool(r2) (or r2 itself)
  let dr2 = dpool;
  if (stride > 1) {
    dr2 = x.alloc(B * P * H * H);
    avgpoolBackward(dr2, dpool, B * P, H, H, stride);
  }
  // r2 = relu(bn2(conv2(r1))), r1 = relu(bn1(conv1(input)))
  const dr1 = x.alloc(B * P * H * H);
  convBnReluBackward(x, dr1, dr2, a.s2, a.s1.r, p.conv2, p.bn2, P, P, H, 1, wg && wg.conv2, wg && wg.bn2);
  convBnReluBackward(x, dinput, dr1, a.s1, a.input, p.conv1, p.bn1, Ci, P, H, 1, wg && wg.conv1, wg && wg.bn1);
  // identity = input, or bn(conv(avgpool(input)))
  if (!p.down || !a.downPool || !a.downConv) {
    if (dinput) residualBackward(dinput, null, dsum, 1, n, n, 1);
    return;
  }
  const ddown = x.alloc(n);
  const wd = wg && wg.down;
  batchnormBackward(ddown, wd && wd.bn.w, wd && wd.bn.b, dsum, a.downConv, p.down.bn.w, p.down.bn.mean, p.down.bn.variance, B, Co, Ho * Ho, x.eps);
  const dpoolIn = stride > 1 ? x.alloc(B * Ci * Ho * Ho) : dinput;
  if (dpoolIn || wd) conv2dBackwardOn(x.be, dpoolIn, wd && wd.conv, null, ddown, a.downPool, p.down.conv, B, Ci, Ho, Ho, Co, 1, 1, 1, 0);
  if (stride > 1 && dinput && dpoolIn) avgpoolBackward(dinput, dpoolIn, B * Ci, H, H, stride);
}

/**
 * dScore/dActivation at `layer` (NCHW), given dScore/dEmbeddings (B,E): attention pool, then the bottlenecks
 * last to first, stopping at the layer. Weight gradients are added into opts.weightGrads (the parameters'
 * layout, zeroed by the caller) for the parameters on the way, and skipped when it is absent.
 */
export function resnetBackward(
  model: ClipModel, run: ResnetRun, dEmbeddings: Tensor, layer: string, opts: { weightGrads?: Params } = {}): Tensor {
  const { config, backend: be, dtype } = model;
  const r = resnetOf(config);
  const rp = model.resnet;
  if (!rp) fail(`model ${model.source} has a ResNet configuration but no ResNet parameters`);
  const target = parseLayer(config, layer);
  if (run.workspace.released) {
    fail(`visionBackward to "${target.name}": this forward pass was released (releaseRun), so its activations are gone: run visionForward again`, 'usage');
  }
  const { B } = run;
  const E = config.embedDim, C = config.vision.width, S = config.vision.imageSize;
  if (target.block < run.firstKept) {
    fail(`visionBackward to "${target.name}": the forward pass did not keep what it needs (pass { keep: ['${target.name}'] } to visionForward)`, 'usage');
  }
  if (!(dEmbeddings.shape.length === 2 && dEmbeddings.shape[0] === B && dEmbeddings.shape[1] === E)) {
    fail(`dEmbeddings has shape ${shapeString(dEmbeddings.shape)}, expected [${B}, ${E}] (one gradient row per image)`, 'usage');
  }
  const dEmb = dtypeOf(dEmbeddings.data) === dtype ? dEmbeddings.data
    : dtype === 'float64' ? Float64Array.from(dEmbeddings.data) : Float32Array.from(dEmbeddings.data);
  const wg = opts.weightGrads ? resnetParams(opts.weightGrads, config) : null;
  const ws = new Workspace(be, dtype);
  const x: Ctx = { be, B, eps: config.vision.eps, alloc: (n) => ws.alloc(n), out: (n) => ws.alloc(n) };
  const { stemH1, blocks: plans } = blockPlans(config);
  const L = plans.length;
  const result = (data: Float, shape: number[]): Tensor => tensor(data.slice(), shape);
  try {
    // the attention pool: embeddings = attnpool(layer4 map)
    const g4 = plans[L - 1].Ho;
    const d: AttnpoolDims = { B, HW: g4 * g4, C, H: config.vision.heads, E };
    const N = 1 + d.HW;
    let dOut = x.alloc(B * C * d.HW);
    attnpoolBackward(be, dOut, { dctx: x.alloc(B * C), dqkv: x.alloc(B * N * 3 * C), dtok: x.alloc(B * N * C), datt: x.alloc(B * d.H * N) },
      dEmb, run.pool, rp.attnpool, d, wg && wg.attnpool);
    // bottlenecks, last to first: block g's input gradient is block g − 1's output gradient
    for (let g = L - 1; g > Math.max(target.block, -1); g--) {
      const b = plans[g];
      const a = run.blocks[g];
      if (!a) fail(`visionBackward: block ${g}'s activations are missing from this run`); // excluded by the check above
      const dIn = x.alloc(B * b.inplanes * b.H * b.H);
      bottleneckBackward(x, dIn, dOut, a, rp.layers[b.stage][b.index], b, wg && wg.layers[b.stage][b.index]);
      dOut = dIn;
    }
    if (target.block >= 0) {
      const b = plans[target.block];
      return result(dOut, [B, 4 * b.planes, b.Ho, b.Ho]);
    }
    const stemH = Math.floor(stemH1 / 2);
    if (target.block === -1) return result(dOut, [B, r.width, stemH, stemH]);
    // the stem, to the pixels
    const stem = run.stem;
    if (!stem) fail('visionBackward: the stem\'s activations are missing from this run');
    const w = r.width, h = w / 2;
    const dr3 = x.alloc(B * w * stemH1 * stemH1);
    avgpoolBackward(dr3, dOut, B * w, stemH1, stemH1, 2);
    const dr2 = x.alloc(B * h * stemH1 * stemH1);
    convBnReluBackward(x, dr2, dr3, stem.s3, stem.s2.r, rp.stem.conv3, rp.stem.bn3, h, w, stemH1, 1, wg && wg.stem.conv3, wg && wg.stem.bn3);
    const dr1 = x.alloc(B * h * stemH1 * stemH1);
    convBnReluBackward(x, dr1, dr2, stem.s2, stem.s1.r, rp.stem.conv2, rp.stem.bn2, h, h, stemH1, 1, wg && wg.stem.conv2, wg && wg.stem.bn2);
    const dPixels = allocFloat(dtype, B * 3 * S * S); // returned: a plain array
    convBnReluBackward(x, dPixels, dr1, stem.s1, run.pixels, rp.stem.conv1, rp.stem.bn1, 3, h, S, 2, wg && wg.stem.conv1, wg && wg.stem.bn1);
    return tensor(dPixels, [B, 3, S, S]);
  } finally {
    ws.release();
  }
}

/** Gives the run's arrays back to the backend (run.embeddings stays valid). */
export function resnetRelease(run: ResnetRun): void {
  run.workspace.release();
}
