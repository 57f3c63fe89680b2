// test/resnet_tiny.test.js: the tiny ResNet CLIP of reference/fixtures/tiny_clip_rn (OpenAI names: stem width 8,
// layers [2,2,2,2], 128 px, text width 64) against openai/CLIP's model.py (reference/resnet_fixtures.py tiny:
// float64 from the float32 weights; f32.* round each model input to float32): the configuration inferred from the
// state dict, every stage (stem, each bottleneck, embedding, text embeddings), the cosine score's gradient at
// visual.layer4, visual.layer3 and the pixels, DecomCAM (both presets) and the nine baselines at visual.layer4 —
// in float32 and float64 mode; then layer names, errors, bits across wasm thread counts and tools/explain.js.
// Tolerances: test/tolerances.js RESNET_TOL (the ViT's CLIP and CAM columns).
import test from 'tape';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors, serializeSafetensors } from '../dist/io/safetensors.js';
import { loadClip } from '../dist/clip/load.js';
import { encodeTokens } from '../dist/clip/model.js';
import { getActivation, resolveLayer, visionBackward, visionForward } from '../dist/clip/vision.js';
import { normalize } from '../dist/image/preprocess.js';
import { seededUniform } from '../dist/tensor/rng.js';
import { explain, camMethods } from '../dist/cam/explain.js';
import { scoreAndGrad } from '../dist/cam/target.js';
import { createWasmBackend } from '../dist/kernels/wasm/backend.js';
import { DecomcamError } from '../dist/errors.js';
import { assertClose, fixturesDir, repoRoot } from './helpers/compare.js';
import { RESNET_TOL } from './tolerances.js';

const fx = readSafetensors(join(fixturesDir, 'resnet_tiny.safetensors')).tensors;
const meta = JSON.parse(readFileSync(join(fixturesDir, 'resnet_tiny.json'), 'utf8'));
const ref = (name) => {
  const t = fx.get(name);
  if (!t) throw new Error(`fixture resnet_tiny has no tensor "${name}"`);
  return t.data;
};
const modelDir = join(fixturesDir, 'tiny_clip_rn');
const S = meta.config.image_resolution;
const rgb = { data: seededUniform(meta.rgb_seed, 'rgb', 3 * S * S, 0.5, 0.5, 'float64'), shape: [3, S, S] };
const prompt = meta.prompts[0];
const BLOCKS = [];
meta.config.vision_layers.forEach((n, s) => { for (let i = 0; i < n; i++) BLOCKS.push(`visual.layer${s + 1}.${i}`); });

const DECOM_STAGES = [ // fixture key, our value, tolerance column
  ['score', (r) => [r.score], 'forward'], ['cosine', (r) => [r.cosine], 'forward'], ['grads', (r) => r.trace.grads.data, 'grad'],
  ['alpha', (r) => r.trace.alpha.data, 'grad'], ['X', (r) => r.trace.X.data, 'derived'],
  ['singular_values', (r) => r.trace.singularValues.data, 'derived'], ['ossm', (r) => r.ossm.data, 'derived'],
  ['M0', (r) => r.trace.M.data.subarray(0, S * S), 'derived'], ['masks0', (r) => r.masks.data.subarray(0, S * S), 'derived'],
  ['blur', (r) => r.trace.blur.data, 'forward'], ['batch0', (r) => r.trace.batch.data.subarray(0, 3 * S * S), 'derived'],
  ['s', (r) => r.trace.s.data, 'derived'], ['s0', (r) => r.trace.s0.data, 'derived'], ['w', (r) => r.weights.data, 'derived'],
  ['map', (r) => r.map.data, 'map'],
];
// the official preset has no s0; M0, masks0, blur and batch0 are stored in f64 only
const DECOM_STAGE_COUNT = { f32: { official: 10, paper: 11 }, f64: { official: 14, paper: 15 } };
const BASELINE_STAGES = {
  gradcam: ['weights'], gradcampp: ['weights'], xgradcam: ['weights'], layercam: [], hirescam: [], eigencam: [],
  eigengradcam: [], scorecam: ['scores', 'weights'], gscorecam: ['top', 'scores', 'weights'],
};

test('resnet tiny: the configuration inferred from the OpenAI state dict, as build_model does', (t) => {
  const { config } = loadClip(modelDir, { dtype: 'float64' });
  t.deepEqual(config.resnet, { layers: meta.config.vision_layers, width: meta.config.vision_width }, 'layers and stem width');
  t.deepEqual([config.vision.imageSize, config.vision.width, config.vision.heads, config.embedDim],
    [S, 32 * meta.config.vision_width, (32 * meta.config.vision_width) / 64, meta.config.embed_dim],
    'image side (from attnpool.positional_embedding), attention pool width and heads (width·32/64), E');
  t.end();
});

for (const dt of ['f32', 'f64']) {
  const dtype = dt === 'f32' ? 'float32' : 'float64';
  const model = loadClip(modelDir, { dtype });
  const tol = RESNET_TOL[dtype];
  const camTol = RESNET_TOL.cam[dt];

  test(`resnet tiny ${dt}: every stage, text embeddings, gradients at layer4, layer3 and the pixels`, (t) => {
    const px = normalize({ data: rgb.data, shape: [3, S, S] }).data;
    const pixels = { data: dtype === 'float32' ? Float32Array.from(px) : Float64Array.from(px), shape: [1, 3, S, S] };
    const run = visionForward(model, pixels);
    assertClose(t, `${dt}.visual.stem`, getActivation(run, 'visual.stem').data, ref(`${dt}.visual.stem`), tol.forward);
    for (const name of BLOCKS) assertClose(t, `${dt}.${name}`, getActivation(run, name).data, ref(`${dt}.${name}`), tol.forward);
    assertClose(t, `${dt}.vision.embeds`, run.embeddings.data, ref(`${dt}.vision.embeds`), tol.forward);
    const texts = meta.ids.map((ids, k) => {
      const e = encodeTokens(model, [Int32Array.from(ids)]).data;
      assertClose(t, `${dt}.${k}.text.embeds`, e, ref(`${dt}.${k}.text.embeds`), tol.forward);
      return e;
    });
    const { score, dv } = scoreAndGrad('cosine', run.embeddings.data, texts[0], model.logitScale);
    assertClose(t, `${dt}.score.cosine`, [score], ref(`${dt}.score.cosine`), tol.forward);
    for (const layer of ['visual.layer4', 'visual.layer3', 'visual.pixels']) {
      const g = visionBackward(model, run, { data: dv, shape: [1, model.config.embedDim] }, layer);
      // the pixels' gradient is stored in f64 only (the f32 reference differs by the input's rounding, ~1e-8)
      const key = layer === 'visual.pixels' ? 'f64.grad.visual.pixels' : `${dt}.grad.${layer}`;
      assertClose(t, `${dt}.grad.${layer}`, g.data, ref(key), tol.grad);
    }
    t.end();
  });

  for (const preset of ['official', 'paper']) {
    test(`resnet tiny decomcam ${preset} ${dt}: every stage at visual.layer4 (the default layer on a ResNet)`, (t) => {
      const P = meta.P[preset];
      const r = explain(model, rgb, [prompt], { preset, ...(P !== 500 ? { P } : {}), trace: true });
      t.equal(r.layer, 'visual.layer4', 'the default layer is visual.layer4 (the official target layer4[-1])');
      const res = r.results[0];
      const pre = `${dt}.0.${preset}`;
      assertClose(t, `${dt}.acts`, res.trace.acts.data, ref(`${dt}.acts`), camTol.forward);
      t.deepEqual(Array.from(res.trace.top.data), Array.from(ref(`${pre}.top`), Number), `${pre}.top (exact, in order)`);
      let compared = 0;
      for (const [key, ours, col] of DECOM_STAGES) {
        if (!fx.has(`${pre}.${key}`)) continue;
        assertClose(t, `${pre}.${key}`, ours(res), ref(`${pre}.${key}`), camTol[col]);
        compared++;
      }
      t.equal(compared, DECOM_STAGE_COUNT[dt][preset], `${pre}: ${compared} stages compared`);
      t.end();
    });
  }

  for (const name of Object.keys(camMethods).filter((m) => m !== 'decomcam')) {
    test(`resnet tiny ${name} ${dt}: channel weights / raw map / final map at visual.layer4`, (t) => {
      const own = name === 'gscorecam' ? { topK: meta.topK } : {};
      const r = explain(model, rgb, [prompt], { method: name, ...own, trace: true });
      const res = r.results[0];
      const pre = `${dt}.${name}`;
      const optional = BASELINE_STAGES[name];
      t.deepEqual(['top', 'scores', 'weights'].filter((k) => fx.has(`${pre}.${k}`)), optional, `${pre}: fixture stages ${optional.join(', ') || 'raw and map only'}`);
      if (optional.includes('top')) t.deepEqual(Array.from(res.trace.top.data), Array.from(ref(`${pre}.top`), Number), `${pre}.top (exact, in order)`);
      if (optional.includes('scores')) assertClose(t, `${pre}.scores`, res.trace.scores.data, ref(`${pre}.scores`), camTol.derived);
      if (optional.includes('weights')) assertClose(t, `${pre}.weights`, res.channelWeights.data, ref(`${pre}.weights`), camTol.derived);
      assertClose(t, `${pre}.raw`, res.trace.raw.data, ref(`${pre}.raw`), camTol.derived);
      if (dt === 'f32') assertClose(t, `${pre}.map`, res.map.data, ref(`${pre}.map`), camTol.map); // (f32 only: see the fixture)
      t.end();
    });
  }
}

test('resnet tiny: another layer as the CAM target — visual.layer3 (8 × 8 × 512), its gradient rows (h·w, C)', (t) => {
  const model = loadClip(modelDir, { dtype: 'float64' });
  const r = explain(model, rgb, [prompt], { method: 'gradcam', layer: 'visual.layer3', trace: true });
  t.deepEqual(r.grid, { h: 8, w: 8, C: 512 }, 'grid of visual.layer3 at 128 px: 128/16, 16·width·2');
  // the fixture's NCHW gradient (1,C,h,w), transposed to position rows
  const g = ref('f64.grad.visual.layer3');
  const rows = new Float64Array(64 * 512);
  for (let c = 0; c < 512; c++) for (let p = 0; p < 64; p++) rows[p * 512 + c] = g[c * 64 + p];
  assertClose(t, 'f64 visual.layer3 grads as (h·w, C)', r.results[0].trace.grads.data, rows, RESNET_TOL.float64.grad);
  t.end();
});

test('resnet tiny: layer names — canonical forms, and errors that list the valid ones', (t) => {
  const { config } = loadClip(modelDir, { dtype: 'float64' });
  t.equal(resolveLayer(config, 'visual.layer4.-1'), 'visual.layer4.1', 'negative block numbers count from the end');
  t.equal(resolveLayer(config, 'visual.layer2'), 'visual.layer2', 'a stage names its last bottleneck');
  const message = (layer) => {
    try { resolveLayer(config, layer); } catch (e) { return e instanceof DecomcamError ? e.message : `not a DecomcamError: ${e}`; }
    return 'no error';
  };
  const typo = message('visual.layr4');
  t.ok(/not recognised/.test(typo) && typo.includes('visual.layer4 is the official default') && typo.includes('layer3: 0-1'), `typo: ${typo}`);
  t.ok(/layer1-layer4/.test(message('visual.layer5')), `no stage 5: ${message('visual.layer5')}`);
  t.ok(/bottlenecks 0-1 \(try visual\.layer4\.1\)/.test(message('visual.layer4.2')), `no block 2: ${message('visual.layer4.2')}`);
  t.ok(/not recognised for this ResNet CLIP/.test(message('vision.blocks.11.ln_1')), 'a ViT layer name on a ResNet is refused, listing the ResNet\'s');
  t.end();
});

test('resnet tiny: a ResNet with a missing tensor, an HF folder without a ViT — clear errors', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rn-missing-'));
  try {
    const file = readSafetensors(join(modelDir, 'RN-tiny.safetensors'));
    const kept = new Map([...file.tensors].filter(([k]) => k !== 'visual.layer3.0.downsample.1.running_var')
);
    writeFileSync(join(dir, 'RN-tiny.safetensors'), serializeSafetensors(kept));
    for (const f of ['vocab.json', 'merges.txt']) copyFileSync(join(modelDir, f), join(dir, f));
    t.throws(() => loadClip(dir), (e) => e instanceof DecomcamError && e.message.includes('"visual.layer3.0.downsample.1.running_var" not found'),
      'missing BatchNorm statistic: named');
    // the same tensors with a config.json (an HF folder): HF has no ResNet CLIP
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'clip' }));
    writeFileSync(join(dir, 'model.safetensors'), serializeSafetensors(kept));
    t.throws(() => loadClip(dir), (e) => e instanceof DecomcamError && /holds a ResNet CLIP .* always a ViT/.test(e.message),
      'HF folder without a ViT: refused, saying why');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  t.end();
});

test('resnet tiny: the wasm backend on 1 and 2 threads gives the same bits (DecomCAM official, Grad-CAM at layer3)', (t) => {
  const one = createWasmBackend({ threads: 1 });
  const why = one.unavailable();
  if (why) { t.skip(`skipped: wasm cannot run here: ${why}`); t.end(); return; }
  const two = createWasmBackend({ threads: 2 });
  const run = (be) => {
    const model = loadClip(modelDir, { backend: be });
    return [explain(model, rgb, [prompt], { preset: 'official', trace: true }).results[0],
      explain(model, rgb, [prompt], { method: 'gradcam', layer: 'visual.layer3', trace: true }).results[0]];
  };
  const [a, b] = [run(one), run(two)];
  const same = (x, y) => x.length === y.length && x.every((v, i) => Object.is(v, y[i]));
  t.ok(same(a[0].trace.acts.data, b[0].trace.acts.data) && same(a[0].trace.grads.data, b[0].trace.grads.data), 'layer4 acts and grads: same bits');
  t.ok(same(a[0].map.data, b[0].map.data) && same(a[0].trace.s.data, b[0].trace.s.data), 'DecomCAM perturbed scores and map: same bits');
  t.ok(same(a[1].trace.grads.data, b[1].trace.grads.data) && same(a[1].map.data, b[1].map.data), 'Grad-CAM at visual.layer3: same bits');
  one.close?.(); two.close?.();
  t.end();
});

test('resnet tiny: tools/explain.js --model on the ResNet folder (default layer visual.layer4, --layer typo lists names)', (t) => {
  const out = mkdtempSync(join(tmpdir(), 'rn-explain-'));
  try {
    const tool = join(repoRoot, 'tools', 'explain.js');
    const sample = join(repoRoot, 'weights', 'tiny-clip', 'sample.png');
    const ok = spawnSync(process.execPath, [tool, '--model', modelDir, '--image', sample, '--text', prompt, '--method', 'gradcam',
      '--out', join(out, 'o'), '--json', '--backend', 'ts'], { encoding: 'utf8' });
    t.equal(ok.status, 0, `exit 0${ok.status ? `: ${ok.stderr}` : ''}`);
    const result = JSON.parse(ok.stdout);
    t.equal(result.layer, 'visual.layer4', 'layer visual.layer4');
    t.ok(existsSync(join(out, 'o', 'result.json')), 'result.json written');
    const bad = spawnSync(process.execPath, [tool, '--model', modelDir, '--image', sample, '--text', prompt, '--layer', 'visual.layer9',
      '--out', join(out, 'p'), '--backend', 'ts'], { encoding: 'utf8' });
    t.equal(bad.status, 2, 'a layer typo is a usage error (exit 2)');
    t.ok(bad.stderr.includes('visual.layer4 is the official default'), `its message lists the valid layers: ${bad.stderr.trim().split('\n')[0]}`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  t.end();
});
