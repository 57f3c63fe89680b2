// test/resnet_rn50.test.js: a full-width RN50-shaped ResNet tower (layers [3,4,6,3], stem width 64, 2048 channels at
// layer4, E 1024; weights from the seeded generator, never stored) in float32 against openai/CLIP's ModifiedResNet
// (reference/resnet_fixtures.py rn50: float64 from the same float32 weights and pixels). Plain-TS convolutions are
// slow, so the input is 64 px (layer4 is 2 × 2) and this runs one forward and one backward: the stem, each
// stage's output, the embedding, the official score's gradient at visual.layer4, and DecomCAM's official preset
// (P = 500 of 2048 channels, Q = 3) through its step functions to the OSSMs, the first mask and perturbed image,
// then the final map from our M_q and the reference's perturbed scores (their forwards are not run here; the
// explain() harness around the steps is covered by resnet_tiny.test.js). Tolerances: test/tolerances.js RESNET_TOL.
import test from 'tape';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../dist/io/safetensors.js';
import { resnetVisionConfig } from '../dist/clip/config.js';
import { seededClip } from '../dist/clip/model.js';
import { getActivation, visionBackward, visionForward } from '../dist/clip/vision.js';
import { gaussianFilter } from '../dist/image/blur.js';
import { normalize } from '../dist/image/preprocess.js';
import { seededUniform } from '../dist/tensor/rng.js';
import { meanOverPositions } from '../dist/cam/gradcam.js';
import { componentWeights, integrate, ossmsByPca, perturbedBatch, presets, topChannels, upsampledMasks, weightedActivations } from '../dist/cam/decomcam.js';
import { cosineRow, positionsOf, scoreAndGrad } from '../dist/cam/target.js';
import { assertClose, fixturesDir } from './helpers/compare.js';
import { RESNET_TOL } from './tolerances.js';

const TOL = RESNET_TOL.float32;
const CAM = RESNET_TOL.cam.f32;

test('resnet RN50-shaped (seeded, float32, 64 px): stages, gradient at visual.layer4, DecomCAM official to the map', (t) => {
  const fx = readSafetensors(join(fixturesDir, 'resnet_rn50.safetensors')).tensors;
  const meta = JSON.parse(readFileSync(join(fixturesDir, 'resnet_rn50.json'), 'utf8'));
  const ref = (n) => fx.get(n).data;
  const S = meta.image_resolution, SS = S * S, E = meta.embed_dim;
  const resnet = { layers: meta.layers, width: meta.width };
  // the text tower is not part of this fixture (the target is a seeded embedding): a minimal one
  const config = {
    vision: resnetVisionConfig(resnet, S), resnet, embedDim: E, logitScaleInit: meta.logit_scale,
    text: { width: 64, layers: 1, heads: 1, mlpWidth: 64, act: 'quick_gelu', eps: 1e-5, contextLength: 4, vocabSize: 10, eotId: 9 },
  };
  const model = seededClip(config, meta.seed, 'float32');
  const o = { ...presets.official, Q: meta.Q };
  const layer = 'visual.layer4';

  // forward: every stage
  const rgb = seededUniform(meta.rgb_seed, 'rgb', 3 * SS, 0.5, 0.5, 'float64');
  const pixels = normalize({ data: rgb, shape: [3, S, S] }).data;
  const run = visionForward(model, { data: Float32Array.from(pixels), shape: [1, 3, S, S] });
  for (const name of ['visual.stem', 'visual.layer1', 'visual.layer2', 'visual.layer3', 'visual.layer4']) {
    assertClose(t, name, getActivation(run, name).data, ref(name), TOL.forward);
  }
  assertClose(t, 'vision.embeds', run.embeddings.data, ref('vision.embeds'), TOL.forward);

  // 1. the official score (logit_scale · <v, t>) of a seeded embedding target; 2. its gradient at layer4 → α
  const text = Float64Array.from(ref('text'));
  const v = run.embeddings.data;
  const { score, dv } = scoreAndGrad('scaledDot', v, text, model.logitScale);
  assertClose(t, 'official.score', [score], ref('official.score'), CAM.forward);
  assertClose(t, 'official.cosine', [cosineRow(v, 0, text, E)], ref('official.cosine'), CAM.forward);
  const grid = { h: S / 32, w: S / 32, C: 2048 };
  const acts = positionsOf(getActivation(run, layer), grid);
  const grads = positionsOf(visionBackward(model, run, { data: dv, shape: [1, E] }, layer), grid);
  assertClose(t, 'official.grads (visual.layer4, h·w × C)', grads, ref('official.grads'), CAM.grad);
  const alpha = meanOverPositions(grads, grid);
  assertClose(t, 'official.alpha', alpha, ref('official.alpha'), CAM.grad);

  // 3. top-P: the same 500 of 2048 channels (order compared where no near-tie: see the fixture's checks)
  const top = topChannels(alpha, o.P);
  const refTop = Array.from(ref('official.top'), Number);
  t.deepEqual([...top].sort((a, b) => a - b), [...refTop].sort((a, b) => a - b), 'official.top: the same 500 channels');
  t.comment(`top-P order ${top.every((c, j) => c === refTop[j]) ? 'identical' : 'differs only within near-ties'} to the reference's`);

  // 4. X, columns matched by channel; 5. PCA → OSSMs
  const X = weightedActivations(acts, alpha, top, grid);
  const col = new Map(refTop.map((c, j) => [c, j]));
  const refX = ref('official.X');
  const n = grid.h * grid.w;
  const refXours = new Float64Array(n * top.length);
  for (let p = 0; p < n; p++) for (let j = 0; j < top.length; j++) refXours[p * top.length + j] = refX[p * top.length + col.get(top[j])];
  assertClose(t, 'official.X', X, refXours, CAM.derived);
  const { ossm, singularValues } = ossmsByPca(X, grid, top.length, o.Q);
  assertClose(t, 'official.singular_values', singularValues, ref('official.singular_values'), CAM.derived);
  assertClose(t, 'official.ossm', ossm, ref('official.ossm'), CAM.derived);

  // 6. masks; 7. the first perturbed image (the official preset perturbs the normalised tensor)
  const { M, masks } = upsampledMasks(ossm, grid, o.Q, S);
  assertClose(t, 'official.M0', M.subarray(0, SS), ref('official.M0'), CAM.derived);
  assertClose(t, 'official.masks0', masks.subarray(0, SS), ref('official.masks0'), CAM.derived);
  const blur = gaussianFilter({ data: pixels, shape: [3, S, S] }, o.sigma, o.truncate).data;
  assertClose(t, 'official.batch0', perturbedBatch(pixels, blur, masks.subarray(0, SS), 1, S), ref('official.batch0'), CAM.derived);

  // 9. integration: weights from the reference's perturbed scores, the map from our M_q
  const w = componentWeights(Float64Array.from(ref('official.s')), o.threshold);
  assertClose(t, 'official.w', w, ref('official.w'), CAM.derived);
  assertClose(t, 'official.map', integrate(M, w, SS, o.finalEps, o.finalPasses), ref('official.map'), CAM.map);
  t.end();
});
