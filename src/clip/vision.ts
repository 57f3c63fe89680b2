// clip/vision.ts: the ViT image tower of CLIP, forward and hand-written backward, as HF CLIPVisionTransformer
// + visual_projection (OpenAI VisionTransformer):
//   pixels → patches → patch embedding → [class; patches] + positions → ln_pre → L blocks → ln_post(class) → proj
// Every activation is kept in a named table ('vision.blocks.3.ln_1', …) so it can be read and differentiated.
// A run's arrays come from a Workspace (the backend's memory where it has one): releaseRun gives them back.
// Letters (clip/config.ts): B images, S image side, P patch, h × w grid, N = 1 + h·w, D width, E embedding.

import { fail } from '../errors.js';
import { embedBackward, embedForward, patchify, patchifyBackward } from '../nn/embed.js';
import { Workspace } from '../kernels/workspace.js';
import { layernormBackward, layernormOn } from '../nn/layernorm.js';
import { linearBackwardOn, linearOn } from '../nn/linear.js';
import { allocFloat, dtypeOf, numel, shapeString, tensor, type DType, type Float, type Tensor } from '../tensor/tensor.js';
import {
  allocBlockActs, blockBackward, blockForward, forwardScratch, forwardScratchSize, type BlockActs, type BlockDims, type BlockStop,
} from './block.js';
import { numTokens, patchGrid, type ClipConfig } from './config.js';
import type { ClipModel } from './model.js';
import {
  RESNET_DEFAULT_LAYER, resnetActivation, resnetBackward, resnetForward, resnetLayerGrid, resnetResolveLayer, type ResnetRun,
} from './resnet.js';
import { param, visionParams, type Params } from './weights.js';

// ---- layer names --------------------------------------------------------------------------------------

// The parts of a block that can be read and differentiated; '' is the block's output ('vision.blocks.N').
const BLOCK_PARTS = ['input', 'ln_1', 'attn', 'mid', 'ln_2', 'mlp', ''] as const;
type BlockPart = (typeof BLOCK_PARTS)[number];
const STEM_LAYERS = ['vision.pixels', 'vision.embed', 'vision.ln_pre'] as const;

interface Layer {
  name: string;      // canonical: 'vision.blocks.11.ln_1', 'vision.blocks.11', 'vision.ln_pre', …
  block: number;     // −1 for the stem
  part: BlockPart | (typeof STEM_LAYERS)[number];
}

function parseLayer(config: ClipConfig, layer: string): Layer {
  const L = config.vision.layers;
  const valid = `valid layers: ${STEM_LAYERS.join(', ')}, vision.blocks.N and vision.blocks.N.{${BLOCK_PARTS.filter((p) => p).join(',')}} ` +
    `for N in 0-${L - 1} (negative N counts from the end)`;
  if ((STEM_LAYERS as readonly string[]).includes(layer)) {
    return { name: layer, block: -1, part: layer as (typeof STEM_LAYERS)[number] };
  }
  const m = /^vision\.blocks\.(-?\d+)(?:\.(input|ln_1|attn|mid|ln_2|mlp|output))?$/.exec(layer);
  if (!m) fail(`layer "${layer}" not recognised; ${valid}`, 'usage');
  let n = Number(m[1]);
  if (n < -L || n >= L) {
    fail(`layer "${layer}" not found: this model has blocks 0-${L - 1} (try vision.blocks.${L - 1}${m[2] ? '.' + m[2] : ''})`, 'usage');
  }
  if (n < 0) n += L;
  const part: BlockPart = !m[2] || m[2] === 'output' ? '' : (m[2] as BlockPart);
  return { name: part ? `vision.blocks.${n}.${part}` : `vision.blocks.${n}`, block: n, part };
}

/**
 * The canonical name of a layer ('vision.blocks.-1.ln_1' → 'vision.blocks.11.ln_1'); an error lists valid names.
 */
export function resolveLayer(config: ClipConfig, layer: string): string {
  if (config.resnet) return resnetResolveLayer(config, layer); // clip/resnet.ts: 'visual.layer4', …
  return parseLayer(config, layer).name;
}

/** The ViT default CAM layer name; on a ResNet it stands for RESNET_DEFAULT_LAYER. */
const VIT_DEFAULT_LAYER = 'vision.blocks.-1.ln_1';

/**
 * The layer a CAM reads when none is given: the last block's ln_1 on a ViT, visual.layer4 (the official
 * DecomCAM target, layer4[-1]) on a ResNet. The ViT default's name given to a ResNet means its default.
 */
export function defaultLayer(config: ClipConfig, layer?: string): string {
  if (config.resnet) return layer === undefined || layer === VIT_DEFAULT_LAYER ? RESNET_DEFAULT_LAYER : layer;
  return layer ?? VIT_DEFAULT_LAYER;
}

/**
 * The positions and channels of a layer as a CAM sees them: the ViT's patch grid (h × w, C = width), or the
 * ResNet map's own size at that layer (visual.layer4: S/32 × S/32, 32·width channels).
 */
export function layerGridOf(config: ClipConfig, layer: string): { h: number; w: number; C: number } {
  if (config.resnet) return resnetLayerGrid(config, layer);
  const [h, w] = patchGrid(config);
  return { h, w, C: config.vision.width };
}

// ---- forward --------------------------------------------------------------------------------------------

/**
 * The activations of one vision forward pass (shapes in the field comments; B images, N tokens, D width), kept for
 * the backward passes until released.
 */
export type VisionRun = VitRun | ResnetRun;

/** A ViT forward pass's activations (VisionRun's ViT case). */
export interface VitRun {
  kind: 'vit';
  config: ClipConfig;
  B: number;
  nqLast: number;                 // tokens the last block computes after its attention: N, or 1 (class only)
  firstKept: number;              // blocks firstKept… kept their activations (L: none)
  pixels: Float;                  // (B,3,S,S)
  patches: Float;                 // (B,h·w,3·P·P)
  patchEmb: Float;                // (B,h·w,D)
  embed: Float;                   // (B,N,D) class + patches + positions
  lnPre: Float; lnPreMean: Float; lnPreRstd: Float; // (B,N,D) (B·N) (B·N)
  blocks: (BlockActs | null)[];   // L; null where not kept
  cls: Float;                     // (B,D) the class token of the last block's output
  lnPost: Float; lnPostMean: Float; lnPostRstd: Float; // (B,D) (B) (B)
  embeddings: Tensor;             // (B,E) unnormalised image embeddings (a plain array: valid after release)
  acts: Map<string, Tensor>;      // every kept activation by name (views, not copies)
  workspace: Workspace;           // owns every array above except pixels and embeddings
}

function blockDims(config: ClipConfig, B: number, nq: number): BlockDims {
  const v = config.vision;
  return { B, N: numTokens(config), nq, D: v.width, H: v.heads, F: v.mlpWidth, causal: false, act: v.act, eps: v.eps };
}

// Which blocks keep their activations: those from the first block any kept layer needs; and whether the last
// block can compute the class token alone (only when nothing after its attention is kept).
function planKeep(config: ClipConfig, keep: string[] | undefined): { firstKept: number; fullLast: boolean } {
  const L = config.vision.layers;
  if (keep === undefined) return { firstKept: 0, fullLast: true };
  let firstKept = L;
  let fullLast = false;
  for (const name of keep) {
    const l = parseLayer(config, name);
    firstKept = Math.min(firstKept, l.block < 0 ? 0 : l.block);
    if (l.block === L - 1 && l.part !== 'input' && l.part !== 'ln_1') fullLast = true;
  }
  return { firstKept, fullLast };
}

/**
 * keep: the layers the caller will read (getActivation) or differentiate (visionBackward); omitted = all.
 */
export function visionForward(model: ClipModel, pixels: Tensor, opts: { keep?: string[] } = {}): VisionRun {
  if (model.config.resnet) return resnetForward(model, pixels, opts); // clip/resnet.ts
  const { config, backend: be, dtype } = model;
  const v = config.vision;
  const vp = model.vision;
  if (!vp) fail(`model ${model.source} has a ViT configuration but no ViT parameters`);
  const S = v.imageSize, P = v.patchSize, D = v.width, E = config.embedDim;
  if (pixels.shape.length !== 4 || pixels.shape[1] !== 3 || pixels.shape[2] !== S || pixels.shape[3] !== S) {
    fail(`pixels have shape ${shapeString(pixels.shape)}, expected [B, 3, ${S}, ${S}] for this model (preprocess the image to ${S}×${S})`, 'usage');
  }
  const B = pixels.shape[0];
  if (B < 1) fail('pixels hold no image (batch size 0)', 'usage');
  const [h, w] = patchGrid(config);
  const N = numTokens(config);
  const L = v.layers;
  const { firstKept, fullLast } = planKeep(config, opts.keep);
  const nqLast = fullLast ? N : 1;
  const acts = new Map<string, Tensor>();
  const name = (n: string, data: Float, shape: number[]): Float => { acts.set(n, tensor(data, shape)); return data; };
  const ws = new Workspace(be, dtype);
  const alloc = (n: number): Float => ws.alloc(n);

  // stem: patches → patch embedding → [class; patches] + positions → ln_pre
  const pixelsData = name('vision.pixels', asDtype(pixels.data, dtype), pixels.shape);
  const patches = alloc(B * h * w * 3 * P * P);
  const patchEmb = alloc(B * h * w * D);
  const embed = name('vision.embed', alloc(B * N * D), [B, N, D]);
  const lnPre = name('vision.ln_pre', alloc(B * N * D), [B, N, D]);
  const lnPreMean = alloc(B * N);
  const lnPreRstd = alloc(B * N);
  patchify(patches, pixelsData, B, 3, S, S, P);
  linearOn(be, patchEmb, patches, vp.patchW, null, B * h * w, 3 * P * P, D);
  embedForward(embed, patchEmb, vp.cls, vp.pos, B, N, D);
  layernormOn(be, lnPre, lnPreMean, lnPreRstd, embed, vp.lnPreW, vp.lnPreB, B * N, D, v.eps);

  // blocks: kept ones get their own arrays. The ones before (firstKept of them) share one forward-only
  // scratch set, their outputs alternating between two stream buffers: block i reads what block i − 1 wrote.
  const dims = blockDims(config, B, N);
  const scratch = firstKept > 0 ? alloc(forwardScratchSize(dims)) : null;
  const streams = firstKept > 0 ? [alloc(B * N * D), alloc(B * N * D)] : [];
  const blocks: (BlockActs | null)[] = [];
  let stream = lnPre;
  for (let i = 0; i < L; i++) {
    const d = i === L - 1 ? blockDims(config, B, nqLast) : dims;
    const kept = i >= firstKept;
    const a = scratch && !kept
      ? forwardScratch(d, scratch, stream, streams[i % 2].subarray(0, B * d.nq * D))
      : allocBlockActs(d, dtype, stream, null, alloc);
    blockForward(be, a, vp.blocks[i], d);
    blocks.push(kept ? a : null);
    if (kept) nameBlock(acts, i, a, d);
    stream = a.out;
  }

  // head: ln_post on the class token, then the projection
  const cls = alloc(B * D);
  for (let b = 0; b < B; b++) cls.set(stream.subarray(b * nqLast * D, b * nqLast * D + D), b * D);
  const lnPost = name('vision.ln_post', alloc(B * D), [B, D]);
  const lnPostMean = alloc(B);
  const lnPostRstd = alloc(B);
  layernormOn(be, lnPost, lnPostMean, lnPostRstd, cls, vp.lnPostW, vp.lnPostB, B, D, v.eps);
  const emb = name('vision.embeds', allocFloat(dtype, B * E), [B, E]);
  linearOn(be, emb, lnPost, vp.proj, null, B, D, E);
  return {
    kind: 'vit', config, B, nqLast, firstKept, pixels: pixelsData, patches, patchEmb, embed, lnPre, lnPreMean, lnPreRstd, blocks, cls,
    lnPost, lnPostMean, lnPostRstd, embeddings: tensor(emb, [B, E]), acts, workspace: ws,
  };
}

/**
 * Gives the run's arrays back to the backend: a backend with its own memory (wasm) holds them until then, for
 * as long as the process runs. The run may not be read or differentiated afterwards, nor any activation view
 * taken from it be used; run.embeddings stays valid.
 */
export function releaseRun(run: VisionRun): void {
  run.workspace.release();
}

function checkNotReleased(run: VisionRun, what: string): void {
  if (run.workspace.released) {
    fail(`${what}: this forward pass was released (releaseRun), so its activations are gone: run visionForward again`, 'usage');
  }
}

// The array itself when it has the model's dtype, else a converted copy.
function asDtype(data: Float, dtype: DType): Float {
  if (dtypeOf(data) === dtype) return data;
  return dtype === 'float64' ? Float64Array.from(data) : Float32Array.from(data);
}

function nameBlock(acts: Map<string, Tensor>, i: number, a: BlockActs, d: BlockDims): void {
  const { B, N, nq, D, H, F } = d;
  const p = `vision.blocks.${i}`;
  const set = (n: string, data: Float, shape: number[]): void => { acts.set(n, tensor(data, shape)); };
  set(`${p}.input`, a.input, [B, N, D]);
  set(`${p}.ln_1`, a.ln1, [B, N, D]);
  set(`${p}.qkv`, a.qkv, [B, N, 3 * D]);
  set(`${p}.att`, a.att, [B, H, nq, N]);
  if (nq < N) return; // the class-token-only tail of the last block is not a full activation
  set(`${p}.ctx`, a.ctx, [B, N, D]);
  set(`${p}.attn`, a.attn, [B, N, D]);
  set(`${p}.mid`, a.mid, [B, N, D]);
  set(`${p}.ln_2`, a.ln2, [B, N, D]);
  set(`${p}.fc`, a.fc, [B, N, F]);
  set(`${p}.act`, a.act, [B, N, F]);
  set(`${p}.mlp`, a.mlp, [B, N, D]);
  set(p, a.out, [B, N, D]);
}

/**
 * An activation by layer name (negative block numbers allowed, as in resolveLayer), or an internal array by
 * its exact name ('vision.blocks.3.qkv', '….att', '….ctx', '….fc', '….act', 'vision.ln_post', 'vision.embeds').
 */
export function getActivation(run: VisionRun, layer: string): Tensor {
  if (run.kind === 'resnet') return resnetActivation(run, layer);
  checkNotReleased(run, `getActivation("${layer}")`);
  const key = run.acts.has(layer) ? layer : parseLayer(run.config, layer).name;
  const t = run.acts.get(key);
  if (!t) {
    fail(`activation "${key}" was not kept by this forward pass: pass { keep: ['${key}'] } to visionForward`, 'usage');
  }
  return t;
}

// ---- backward -------------------------------------------------------------------------------------------

/**
 * dScore/dActivation at `layer`, given dScore/dEmbeddings (B,E): the forward list reversed, stopping at the
 * layer. Weight gradients are added into opts.weightGrads (same layout as the parameters, zeroed by the
 * caller) for the parameters on the way, and skipped when it is absent.
 */
export function visionBackward(
  model: ClipModel, run: VisionRun, dEmbeddings: Tensor, layer: string,
  opts: { weightGrads?: Params } = {}): Tensor {
  if (run.kind === 'resnet') return resnetBackward(model, run, dEmbeddings, layer, opts); // clip/resnet.ts
  const { config, backend: be, dtype } = model;
  const v = config.vision;
  const vp = model.vision;
  if (!vp) fail(`model ${model.source} has a ViT configuration but no ViT parameters`);
  const { B, nqLast } = run;
  const D = v.width, E = config.embedDim, P = v.patchSize, S = v.imageSize;
  const N = numTokens(config);
  const L = v.layers;
  const [h, w] = patchGrid(config);
  const target = parseLayer(config, layer);
  checkNotReleased(run, `visionBackward to "${target.name}"`);
  // the blocks from the target's on must have kept their activations (the output of block i is block i+1's input)
  const needFrom = target.block < 0 ? 0 : target.part === '' ? target.block + 1 : target.block;
  if (!run.acts.has(target.name) || (needFrom < L && needFrom < run.firstKept)) {
    fail(`visionBackward to "${target.name}": the forward pass did not keep what it needs (pass { keep: ['${target.name}'] } to visionForward)`, 'usage');
  }
  if (!(dEmbeddings.shape.length === 2 && dEmbeddings.shape[0] === B && dEmbeddings.shape[1] === E)) {
    fail(`dEmbeddings has shape ${shapeString(dEmbeddings.shape)}, expected [${B}, ${E}] (one gradient row per image)`, 'usage');
  }
  const dEmb = asDtype(dEmbeddings.data, dtype);
  const wg = opts.weightGrads ?? null;
  const wgBlocks = wg ? visionParams(wg, config).blocks : null;
  const wgp = (n: string): Float | null => (wg ? param(wg, n) : null);
  // every array below is scratch, given back at the end: the gradient returned is a copy
  const ws = new Workspace(be, dtype);
  const alloc = (n: number): Float => ws.alloc(n);
  const result = (data: Float, shape: number[]): Tensor => tensor(data.slice(), shape);

  try {
    // embeddings = proj(lnPost), lnPost = LN(cls), cls = out[:, 0]
    const dLnPost = alloc(B * D);
    linearBackwardOn(be, dLnPost, wgp('vision.proj'), null, dEmb, run.lnPost, vp.proj, B, D, E);
    const dCls = alloc(B * D);
    layernormBackward(dCls, wgp('vision.ln_post.weight'), wgp('vision.ln_post.bias'), dLnPost, run.cls,
      vp.lnPostW, run.lnPostMean, run.lnPostRstd, B, D);
    let dOut = alloc(B * nqLast * D);
    for (let b = 0; b < B; b++) dOut.set(dCls.subarray(b * D, b * D + D), b * nqLast * D);
    if (target.block === L - 1 && target.part === '') return result(dOut, [B, N, D]);

    // blocks, last to first, until the target: the output of block i is the input of block i + 1
    let stopBlock = target.block;
    let stop: BlockStop = 'input';
    if (target.block < 0) stopBlock = 0;
    else if (target.part === '') stopBlock = target.block + 1;
    else stop = target.part as BlockStop;
    for (let i = L - 1; i >= stopBlock; i--) {
      const a = run.blocks[i];
      if (!a) fail(`visionBackward: block ${i}'s activations are missing from this run`); // excluded by the check above
      const d = blockDims(config, B, i === L - 1 ? nqLast : N);
      const g = allocBlockActs(d, dtype, null, dOut, alloc);
      const s: BlockStop = i === stopBlock ? stop : 'input';
      blockBackward(be, g, a, vp.blocks[i], d, wgBlocks && wgBlocks[i], s);
      if (i === stopBlock && target.block >= 0) {
        const grad = { mlp: g.mlp, ln_2: g.ln2, mid: g.mid, attn: g.mid, ln_1: g.ln1, input: g.input }[s];
        return result(grad, [B, N, D]);
      }
      dOut = g.input;
    }

    // stem: ln_pre → embed → patch embedding → pixels
    if (target.part === 'vision.ln_pre') return result(dOut, [B, N, D]);
    const dEmbed = alloc(B * N * D);
    layernormBackward(dEmbed, wgp('vision.ln_pre.weight'), wgp('vision.ln_pre.bias'), dOut, run.embed,
      vp.lnPreW, run.lnPreMean, run.lnPreRstd, B * N, D);
    if (target.part === 'vision.embed') return result(dEmbed, [B, N, D]);
    const dPatchEmb = alloc(B * h * w * D);
    embedBackward(dPatchEmb, wgp('vision.class'), wgp('vision.pos'), dEmbed, B, N, D);
    const dPatches = alloc(B * h * w * 3 * P * P);
    linearBackwardOn(be, dPatches, wgp('vision.patch.weight'), null, dPatchEmb, run.patches, vp.patchW, B * h * w, 3 * P * P, D);
    const dPixels = allocFloat(dtype, numel([B, 3, S, S])); // returned: a plain array
    patchifyBackward(dPixels, dPatches, B, 3, S, S, P);
    return tensor(dPixels, [B, 3, S, S]);
  } finally {
    ws.release();
  }
}
