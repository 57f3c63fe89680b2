// clip/resnet_weights.ts: the parameter table of OpenAI's ModifiedResNet image tower (openai/CLIP model.py) —
// our name, shape and state-dict key — its named views, its configuration inferred from a state dict's shapes
// (as build_model does) and the seeded generator's scales for it. The text tower is the ViT models' (weights.ts).
// Letters: w stem width; stage s (layer s+1) has planes p = w·2^s, output 4p; C = 32·w; E embedding; g = S/32.

import { fail } from '../errors.js';
import type { Float } from '../tensor/tensor.js';
import { resnetVisionConfig, type ClipConfig, type ResnetConfig, type VisionConfig } from './config.js';
import type { AttnpoolParams } from '../nn/attnpool.js';
import type { ParamSpec, Params } from './weights.js';

/** One BatchNorm2d's four tensors (C each). */
export interface BnParams { w: Float; b: Float; mean: Float; variance: Float }

/** One Bottleneck: conv1 1×1 (p,in) · conv2 3×3 (p,p) · conv3 1×1 (4p,p), each with its BatchNorm; the
 * downsample branch (AvgPool(stride) → 1×1 conv (4p,in) → BN) on the first block of a stage, else null. */
export interface BottleneckParams {
  conv1: Float; bn1: BnParams; conv2: Float; bn2: BnParams; conv3: Float; bn3: BnParams;
  down: { conv: Float; bn: BnParams } | null;
}

/** Named views of a ResNet tower's parameters. */
export interface ResnetParams {
  stem: { conv1: Float; bn1: BnParams; conv2: Float; bn2: BnParams; conv3: Float; bn3: BnParams }; // 3×3 convs
  layers: BottleneckParams[][];  // 4 stages
  attnpool: AttnpoolParams;
}

/** Sizes of one bottleneck: input channels, planes, stride (2 on the first block of layer2-4), downsample. */
export interface BottleneckShape { inplanes: number; planes: number; stride: number; downsample: boolean }

/** Every bottleneck's sizes, stage by stage (ModifiedResNet._make_layer). */
export function bottleneckShapes(r: ResnetConfig): BottleneckShape[][] {
  let inplanes = r.width;
  return r.layers.map((count, s) => {
    const planes = r.width * 2 ** s;
    const stage: BottleneckShape[] = [];
    for (let i = 0; i < count; i++) {
      const stride = i === 0 && s > 0 ? 2 : 1;
      stage.push({ inplanes, planes, stride, downsample: stride > 1 || inplanes !== 4 * planes });
      inplanes = 4 * planes;
    }
    return stage;
  });
}

/**
 * The ResNet tower's rows of the parameter table: ours 'vision.layer1.0.conv1.weight', OpenAI's
 * 'visual.layer1.0.conv1.weight'. `hf` holds the OpenAI key too (there is no HF ResNet CLIP): it names the
 * seeded generator's stream.
 */
export function resnetVisionSpecs(config: ClipConfig): ParamSpec[] {
  const r = config.resnet;
  if (!r) fail('resnetVisionSpecs: not a ResNet configuration');
  const specs: ParamSpec[] = [];
  const one = (ours: string, openai: string, shape: number[]): void => {
    specs.push({ name: `vision.${ours}`, shape, hf: [`visual.${openai}`], openai: `visual.${openai}`, openaiTransposed: false });
  };
  const conv = (ours: string, openai: string, o: number, i: number, k: number): void => one(`${ours}.weight`, `${openai}.weight`, [o, i, k, k]);
  const bn = (ours: string, openai: string, c: number): void => {
    for (const t of ['weight', 'bias', 'running_mean', 'running_var']) one(`${ours}.${t}`, `${openai}.${t}`, [c]);
  };
  const w = r.width, h = w / 2;
  conv('stem.conv1', 'conv1', h, 3, 3); bn('stem.bn1', 'bn1', h);
  conv('stem.conv2', 'conv2', h, h, 3); bn('stem.bn2', 'bn2', h);
  conv('stem.conv3', 'conv3', w, h, 3); bn('stem.bn3', 'bn3', w);
  bottleneckShapes(r).forEach((stage, s) => stage.forEach((b, i) => {
    const p = `layer${s + 1}.${i}`;
    conv(`${p}.conv1`, `${p}.conv1`, b.planes, b.inplanes, 1); bn(`${p}.bn1`, `${p}.bn1`, b.planes);
    conv(`${p}.conv2`, `${p}.conv2`, b.planes, b.planes, 3); bn(`${p}.bn2`, `${p}.bn2`, b.planes);
    conv(`${p}.conv3`, `${p}.conv3`, 4 * b.planes, b.planes, 1); bn(`${p}.bn3`, `${p}.bn3`, 4 * b.planes);
    if (b.downsample) {
      conv(`${p}.downsample.conv`, `${p}.downsample.0`, 4 * b.planes, b.inplanes, 1); // Sequential '-1' is the AvgPool
      bn(`${p}.downsample.bn`, `${p}.downsample.1`, 4 * b.planes);
    }
  }));
  const C = config.vision.width, E = config.embedDim, g = Math.floor(config.vision.imageSize / 32);
  one('attnpool.pos', 'attnpool.positional_embedding', [g * g + 1, C]);
  for (const x of ['q', 'k', 'v']) {
    one(`attnpool.${x}.weight`, `attnpool.${x}_proj.weight`, [C, C]);
    one(`attnpool.${x}.bias`, `attnpool.${x}_proj.bias`, [C]);
  }
  one('attnpool.c_proj.weight', 'attnpool.c_proj.weight', [E, C]);
  one('attnpool.c_proj.bias', 'attnpool.c_proj.bias', [E]);
  return specs;
}

/** The ResNet tower's named views (of parameters, or of weight gradients in the same layout). */
export function resnetParams(p: Params, config: ClipConfig): ResnetParams {
  const r = config.resnet;
  if (!r) fail('resnetParams: not a ResNet configuration');
  const get = (n: string): Float => {
    const v = p.views.get(`vision.${n}`);
    if (!v) fail(`parameter "vision.${n}" is not part of this model`);
    return v;
  };
  const bn = (n: string): BnParams => ({
    w: get(`${n}.weight`), b: get(`${n}.bias`), mean: get(`${n}.running_mean`), variance: get(`${n}.running_var`),
  });
  const layers = bottleneckShapes(r).map((stage, s) => stage.map((b, i): BottleneckParams => {
    const q = `layer${s + 1}.${i}`;
    return {
      conv1: get(`${q}.conv1.weight`), bn1: bn(`${q}.bn1`), conv2: get(`${q}.conv2.weight`), bn2: bn(`${q}.bn2`),
      conv3: get(`${q}.conv3.weight`), bn3: bn(`${q}.bn3`),
      down: b.downsample ? { conv: get(`${q}.downsample.conv.weight`), bn: bn(`${q}.downsample.bn`) } : null,
    };
  }));
  return {
    stem: {
      conv1: get('stem.conv1.weight'), bn1: bn('stem.bn1'), conv2: get('stem.conv2.weight'), bn2: bn('stem.bn2'),
      conv3: get('stem.conv3.weight'), bn3: bn('stem.bn3'),
    },
    layers,
    attnpool: {
      pos: get('attnpool.pos'), qW: get('attnpool.q.weight'), qB: get('attnpool.q.bias'), kW: get('attnpool.k.weight'),
      kB: get('attnpool.k.bias'), vW: get('attnpool.v.weight'), vB: get('attnpool.v.bias'),
      cW: get('attnpool.c_proj.weight'), cB: get('attnpool.c_proj.bias'),
    },
  };
}

/** Whether a state dict holds a ResNet image tower (visual.layer1.* tensors). */
export function isResnetStateDict(keys: Iterable<string>): boolean {
  for (const k of keys) if (k.startsWith('visual.layer1.')) return true;
  return false;
}

/**
 * openai/CLIP's build_model for a ResNet tower: bottleneck counts from the visual.layerN.M keys, the stem width
 * from layer1.0.conv1, the image side from the attention pool's positional embedding (S = 32·g for g² + 1 rows).
 */
export function inferResnetVision(shapes: Map<string, number[]>, source: string): { vision: VisionConfig; resnet: ResnetConfig } {
  const layers = [1, 2, 3, 4].map((s) => {
    const ids = new Set<number>();
    const re = new RegExp(`^visual\\.layer${s}\\.(\\d+)\\.`);
    for (const k of shapes.keys()) {
      const m = re.exec(k);
      if (m) ids.add(Number(m[1]));
    }
    for (let i = 0; i < ids.size; i++) {
      if (!ids.has(i)) fail(`${source}: ResNet stage visual.layer${s} has bottlenecks ${[...ids].sort((a, b) => a - b).join(', ')}: block ${i} is missing`);
    }
    if (ids.size === 0) fail(`${source}: a ResNet CLIP needs visual.layer1-4; no visual.layer${s}.* tensor was found`);
    return ids.size;
  });
  const conv1 = shapes.get('visual.layer1.0.conv1.weight');
  if (!conv1 || conv1.length !== 4) fail(`${source}: tensor "visual.layer1.0.conv1.weight" (ResNet stem width) is missing or not 4-D`);
  const pos = shapes.get('visual.attnpool.positional_embedding');
  if (!pos || pos.length !== 2) fail(`${source}: tensor "visual.attnpool.positional_embedding" of the ResNet attention pool is missing or not 2-D`);
  const g = Math.round(Math.sqrt(pos[0] - 1));
  if (g < 1 || g * g + 1 !== pos[0]) {
    fail(`${source}: visual.attnpool.positional_embedding has ${pos[0]} rows, expected 1 + a square number of positions`);
  }
  const resnet: ResnetConfig = { layers, width: conv1[0] };
  return { vision: resnetVisionConfig(resnet, 32 * g), resnet };
}

/**
 * (scale, offset) of a ResNet tensor for the seeded generator (reference/resnet_fixtures.py's twin): convs
 * ±√(3/fan_in) (variance 1/fan_in, so a deep tower still sees its input), Linear weights ±1/√fan_in, biases ±0.02, BatchNorm weight 1 ± 0.1, bias ±0.1, running mean ±0.1, running
 * variance 1 ± 0.1 (kept positive), positional embedding ±0.1.
 */
export function resnetSeededScale(key: string, shape: number[]): [number, number] {
  if (/\.bn\d\.|downsample\.1\./.test(key)) {
    if (key.endsWith('.weight') || key.endsWith('.running_var')) return [0.1, 1];
    return [0.1, 0];
  }
  if (key.endsWith('positional_embedding')) return [0.1, 0];
  if (key.endsWith('.bias')) return [0.02, 0];
  let fanIn = 1;
  for (const d of shape.slice(1)) fanIn *= d;
  return [shape.length === 4 ? Math.sqrt(3 / fanIn) : 1 / Math.sqrt(fanIn), 0];
}
