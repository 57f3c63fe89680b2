// test/cam_vitb16.test.js: DecomCAM on the seeded full-size ViT-B/16 (weights from the seeded generator, never
// stored; paper preset, P = 500 of C = 768, Q = 10) against reference/cam_reference.py (cam_vitb16.*: float64 from
// the float32 weights, model inputs rounded to float32). A plain-TS ViT-B/16 forward takes seconds (tens of
// seconds on a loaded machine), so this runs the step functions of cam/decomcam.ts directly (the explain()
// harness around them is covered by test/cam.test.js) with two forwards: the image (and one backward to
// blocks.11.ln_1), then the first perturbed image. It checks every stage up to the OSSMs, M_0, m_0, x_0 and s_0,
// and integrates the final map from our M_q and the reference's s_q (the other nine perturbed forwards and the
// blurred image's forward are not run here). Tolerances: test/cam_tolerances.js.
import test from 'tape';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../dist/io/safetensors.js';
import { parseHfConfig } from '../dist/clip/config.js';
import { encodeTokens, seededClip } from '../dist/clip/model.js';
import { getActivation, visionBackward, visionForward } from '../dist/clip/vision.js';
import { gaussianFilter } from '../dist/image/blur.js';
import { normalize } from '../dist/image/preprocess.js';
import { seededUniform } from '../dist/tensor/rng.js';
import { meanOverPositions } from '../dist/cam/gradcam.js';
import {
  componentWeights, integrate, ossmsByPca, perturbedBatch, presets, topChannels, upsampledMasks, weightedActivations,
} from '../dist/cam/decomcam.js';
import { cosineRow, scoreAndGrad, scoreRows } from '../dist/cam/target.js';
import { assertClose, fixturesDir } from './helpers/compare.js';
import { CAM_TOL } from './cam_tolerances.js';

const TOL = CAM_TOL.f32;

test('decomcam ViT-B/16 (seeded, float32, paper preset): stages to the OSSMs, first mask and perturbed score, integration', (t) => {
  const fx = readSafetensors(join(fixturesDir, 'cam_vitb16.safetensors')).tensors;
  const meta = JSON.parse(readFileSync(join(fixturesDir, 'cam_vitb16.json'), 'utf8'));
  const ref = (n) => fx.get(n).data;
  const o = presets.paper;
  const config = parseHfConfig(meta.config, 'cam_vitb16.json');
  const model = seededClip(config, meta.model_seed, 'float32');
  const S = config.vision.imageSize;
  const SS = S * S;
  const layer = 'vision.blocks.11.ln_1';
  const grid = { h: S / config.vision.patchSize, w: S / config.vision.patchSize, C: config.vision.width };
  const n = grid.h * grid.w;
  const f32 = (x) => Float32Array.from(x);

  // 1. score: the text embedding, one forward, the cosine
  const text = encodeTokens(model, [Int32Array.from(meta.ids)]).data;
  assertClose(t, 'text.embeds', text, ref('text.embeds'), TOL.forward);
  const rgb = seededUniform(meta.rgb_seed, 'rgb', 3 * SS, 0.5, 0.5, 'float64');
  const pixels = normalize({ data: rgb, shape: [3, S, S] }).data;
  const run = visionForward(model, { data: f32(pixels), shape: [1, 3, S, S] }, { keep: [layer] });
  const v = run.embeddings.data;
  const { score, dv } = scoreAndGrad('cosine', v, text, model.logitScale);
  assertClose(t, 'paper.score', [score], ref('paper.score'), TOL.forward);
  assertClose(t, 'paper.cosine', [cosineRow(v, 0, text, text.length)], ref('paper.cosine'), TOL.forward);

  // 2. gradients at the layer → α
  const acts = getActivation(run, layer).data.subarray(grid.C);
  const grads = visionBackward(model, run, { data: dv, shape: [1, text.length] }, layer).data.subarray(grid.C);
  const alpha = meanOverPositions(grads, grid);
  assertClose(t, 'paper.alpha', alpha, ref('paper.alpha'), TOL.grad);

  // 3. top-P: the same 500 channels. Inside the selection, neighbouring α differ by as little as 5e-7 of max |α|
  // (cam_vitb16.json, checks), below float32 gradients' accuracy, so the order there may differ; it does not
  // change the PCA. X is compared column by column, matched by channel.
  const top = topChannels(alpha, o.P);
  const refTop = Array.from(ref('paper.top'), Number);
  t.deepEqual([...top].sort((a, b) => a - b), [...refTop].sort((a, b) => a - b), 'paper.top: the same 500 channels');
  const sameOrder = top.every((c, j) => c === refTop[j]);
  t.comment(`top-P order ${sameOrder ? 'identical' : 'differs only within near-ties'} to the reference's`);

  // 4. X = A[:,top]·α[top], reference columns reordered to ours
  const X = weightedActivations(acts, alpha, top, grid);
  const col = new Map(refTop.map((c, j) => [c, j]));
  const refX = ref('paper.X');
  const refXours = new Float64Array(n * top.length);
  for (let p = 0; p < n; p++) for (let j = 0; j < top.length; j++) refXours[p * top.length + j] = refX[p * top.length + col.get(top[j])];
  assertClose(t, 'paper.X', X, refXours, TOL.derived);

  // 5. PCA → OSSMs
  const { ossm, singularValues } = ossmsByPca(X, grid, top.length, o.Q);
  assertClose(t, 'paper.singular_values', singularValues, ref('paper.singular_values'), TOL.derived);
  assertClose(t, 'paper.ossm', ossm, ref('paper.ossm'), TOL.derived);

  // 6. masks, 7. the first perturbed image, 8. its score
  const { M, masks } = upsampledMasks(ossm, grid, o.Q, S);
  assertClose(t, 'paper.M0', M.subarray(0, SS), ref('paper.M0'), TOL.derived);
  assertClose(t, 'paper.masks0', masks.subarray(0, SS), ref('paper.masks0'), TOL.derived);
  const blur = gaussianFilter({ data: rgb, shape: [3, S, S] }, o.sigma, o.truncate).data;
  const x0 = normalize({ data: perturbedBatch(rgb, blur, masks.subarray(0, SS), 1, S), shape: [3, S, S] }).data;
  assertClose(t, 'paper.batch0', x0, ref('paper.batch0'), TOL.derived);
  const e0 = visionForward(model, { data: f32(x0), shape: [1, 3, S, S] }, { keep: [] }).embeddings.data;
  assertClose(t, 'paper.s[0]', scoreRows('cosine', e0, 1, text, model.logitScale), ref('paper.s').subarray(0, 1), TOL.derived);

  // 9. integration: weights from the reference's gains, the map from our M_q
  const gains = Float64Array.from(ref('paper.s'), (s) => s - ref('paper.s0')[0]);
  const w = componentWeights(gains, o.threshold);
  assertClose(t, 'paper.w', w, ref('paper.w'), TOL.derived);
  assertClose(t, 'paper.map', integrate(M, w, SS, o.finalEps, o.finalPasses), ref('paper.map'), TOL.map);
  t.end();
});
