// test/cam.test.js: DecomCAM (both presets) and the baseline CAMs against reference/cam_reference.py
// (reference/fixtures/cam_tiny.*): the tiny CLIP of reference/fixtures/tiny_clip_hf, one seeded 32×32 RGB crop,
// two prompts in one explain() call. Every stage is compared, in float32 and float64 mode.
// The reference computes in float64 from the float32 weights (its f32.* stages round each model input to float32,
// as the float32 model does), so the f32 column bounds our float32 rounding and the f64 column is exact.
import test from 'tape';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { readSafetensors } from '../dist/io/safetensors.js';
import { loadClip } from '../dist/clip/load.js';
import { encodeImages, encodeTexts } from '../dist/clip/model.js';
import { normalize } from '../dist/image/preprocess.js';
import { explain, camMethods } from '../dist/cam/explain.js';
import { embeddingTarget, textTarget } from '../dist/cam/target.js';
import { assertClose, fixturesDir } from './helpers/compare.js';
import { CAM_TOL } from './cam_tolerances.js';

// Tolerances: test/cam_tolerances.js (the CLIP issue's, plus a column for what the gradients feed and one for
// final maps).
const TOL = CAM_TOL;
const DECOM_STAGES = [ // fixture key, our trace/result name, tolerance column
  ['score', 'score', 'forward'], ['cosine', 'cosine', 'forward'], ['grads', 'grads', 'grad'], ['alpha', 'alpha', 'grad'],
  ['X', 'X', 'derived'], ['singular_values', 'singularValues', 'derived'], ['ossm', 'ossm', 'derived'],
  ['M', 'M', 'derived'], ['masks', 'masks', 'derived'], ['blur', 'blur', 'forward'], ['batch', 'batch', 'derived'],
  ['s', 's', 'derived'], ['s0', 's0', 'derived'], ['w', 'weights', 'derived'], ['map', 'map', 'map'],
];

const fx = readSafetensors(join(fixturesDir, 'cam_tiny.safetensors')).tensors;
const meta = JSON.parse(readFileSync(join(fixturesDir, 'cam_tiny.json'), 'utf8'));
const ref = (name) => {
  const t = fx.get(name);
  if (!t) throw new Error(`fixture cam_tiny has no tensor "${name}"`);
  return t.data;
};
const modelDir = join(fixturesDir, 'tiny_clip_hf');
const rgb = { data: Float64Array.from(ref('input.rgb')), shape: [3, 32, 32] };
const prompts = meta.prompts;

// Our value of a stage: a trace entry, or a field of the text's result.
function ours(result, key) {
  if (key === 'score' || key === 'cosine') return [result[key]];
  if (key === 'map' || key === 'ossm' || key === 'masks') return result[key].data;
  if (key === 'weights') return result.weights.data;
  return result.trace[key].data;
}

for (const dt of ['f32', 'f64']) {
  const model = loadClip(modelDir, { dtype: dt === 'f32' ? 'float32' : 'float64' });
  const tol = TOL[dt];

  for (const preset of ['official', 'paper']) {
    test(`decomcam ${preset} ${dt}: every stage, two texts sharing one forward`, (t) => {
      const r = explain(model, rgb, prompts, { preset, P: meta.P[preset], trace: true });
      t.equal(r.results.length, 2, 'one result per text');
      r.results.forEach((res, k) => {
        const pre = `${dt}.${k}.${preset}`;
        assertClose(t, `${pre}.text.embeds`, encodeOne(model, prompts[k]), ref(`${dt}.${k}.text.embeds`), tol.forward);
        if (k === 0) assertClose(t, `${dt}.acts`, res.trace.acts.data, ref(`${dt}.acts`), tol.forward);
        t.deepEqual(Array.from(res.trace.top.data), Array.from(ref(`${pre}.top`), Number), `${pre}.top (exact, in order)`);
        for (const [key, name, col] of DECOM_STAGES) {
          if (!fx.has(`${pre}.${key}`)) continue;
          assertClose(t, `${pre}.${key}`, ours(res, name), ref(`${pre}.${key}`), tol[col]);
        }
      });
      // P = 500 > C = 128 on this model: all channels kept; the default P (500) takes a narrow layer whole
      // silently, a P the caller chose that the layer cannot give is said
      const P = meta.P[preset];
      t.equal(r.warnings.some((w) => w.includes('exceeds')), false,
        `P ${P}${P === 500 ? ' (the default)' : ''} vs C ${r.grid.C}: no warning`);
      if (preset === 'paper') {
        const wide = explain(model, rgb, [prompts[0]], { preset, P: r.grid.C + 1 });
        t.ok(wide.warnings.some((w) => w.includes(`top-P ${r.grid.C + 1} exceeds the layer's ${r.grid.C} channels`)),
          `P ${r.grid.C + 1} (given) vs C ${r.grid.C}: "${wide.warnings[0]}"`);
      }
      t.end();
    });
  }

  test(`decomcam ${dt}: all component weights zero → an all-zero map and a warning`, (t) => {
    const r = explain(model, rgb, [prompts[0]], { preset: 'paper', P: meta.P.paper, threshold: 1e9 });
    const res = r.results[0];
    assertClose(t, `${dt}.zero.w`, res.weights.data, ref(`${dt}.zero.w`), 0);
    assertClose(t, `${dt}.zero.map`, res.map.data, ref(`${dt}.zero.map`), 0);
    t.ok(res.warnings.some((w) => w.includes('weights are 0')), `warning: ${res.warnings[0]}`);
    t.end();
  });

  for (const name of Object.keys(camMethods).filter((m) => m !== 'decomcam')) {
    test(`${name} ${dt}: channel weights / raw map / final map`, (t) => {
      const r = explain(model, rgb, [prompts[0]], { method: name, preset: 'paper', topK: meta.topK, trace: true });
      const res = r.results[0];
      const pre = `${dt}.${name}`;
      if (fx.has(`${pre}.top`)) {
        t.deepEqual(Array.from(res.trace.top.data), Array.from(ref(`${pre}.top`), Number), `${pre}.top (exact, in order)`);
      }
      if (fx.has(`${pre}.scores`)) assertClose(t, `${pre}.scores`, res.trace.scores.data, ref(`${pre}.scores`), tol.derived);
      if (fx.has(`${pre}.weights`)) assertClose(t, `${pre}.weights`, res.channelWeights.data, ref(`${pre}.weights`), tol.derived);
      assertClose(t, `${pre}.raw`, res.trace.raw.data, ref(`${pre}.raw`), tol.derived);
      assertClose(t, `${pre}.map`, res.map.data, ref(`${pre}.map`), tol.map);
      t.end();
    });
  }
}

// The text embedding our model gives a prompt (compared with the reference's, so a tokenizer or text-tower
// difference names itself before the CAM stages), and the image embedding of the crop.
function encodeOne(model, prompt) {
  return encodeTexts(model, [prompt]).data;
}
function encodeCrop(model) {
  const x = normalize({ data: rgb.data, shape: [3, 32, 32] }).data;
  const data = model.dtype === 'float32' ? Float32Array.from(x) : Float64Array.from(x);
  return encodeImages(model, { data, shape: [1, 3, 32, 32] }).data;
}

test('explain: targets, options and bad input', (t) => {
  const model = loadClip(modelDir, { dtype: 'float32' });
  // an embedding target gives the same map as the text it came from
  const tv = encodeOne(model, prompts[0]);
  const a = explain(model, rgb, [prompts[0]], { method: 'gradcam' }).results[0];
  const b = explain(model, rgb, [embeddingTarget(tv, 'cosine', 'cat')], { method: 'gradcam' }).results[0];
  assertClose(t, 'embeddingTarget = textTarget (gradcam map)', b.map.data, a.map.data, 0);
  t.equal(b.text, 'cat', 'embedding target label');
  // the official score: logit_scale (the raw parameter) · <v, t>, and the cosine reported beside it
  const c = explain(model, rgb, [textTarget(prompts[0], 'scaledDot')], { method: 'gradcam' }).results[0];
  const v = encodeCrop(model);
  let dot = 0;
  for (let i = 0; i < tv.length; i++) dot += v[i] * tv[i];
  assertClose(t, 'scaledDot score = logit_scale·<v,t>', [c.score], [model.logitScale * dot], CAM_TOL.f32.forward);
  assertClose(t, 'cosine reported with any score kind', [c.cosine], [a.score], CAM_TOL.f32.forward);
  const bad = [
    [() => explain(model, rgb, [], {}), /at least one text/],
    [() => explain(model, rgb, [''], {}), /empty/],
    [() => explain(model, rgb, ['a cat'], { method: 'nope' }), /method "nope" is unknown/],
    [() => explain(model, rgb, ['a cat'], { preset: 'nope' }), /preset "nope" is unknown/],
    [() => explain(model, rgb, ['a cat'], { layer: 'vision.blocks.7.ln_1' }), /not found/],
    [() => explain(model, rgb, ['a cat'], { Q: 0 }), /Q \(components\)/],
    [() => explain(model, rgb, ['a cat'], { Q: 17 }), /Q = 17/],
    [() => explain(model, rgb, ['a cat'], { score: 'dot' }), /score = "dot"/],
    [() => explain(model, { data: new Float64Array(12), shape: [3, 2, 2] }, ['a cat'], {}), /\[3, 32, 32\]/],
    [() => explain(model, { width: 2, height: 2, data: new Uint8Array(5) }, ['a cat'], {}), /decoded RGB image/],
    [() => explain(model, rgb, [embeddingTarget(new Float32Array(5))], {}), /has 5 values/],
  ];
  for (const [fn, re] of bad) t.throws(fn, re, `rejects: ${re}`);
  // the last block's output: its patch tokens do not feed the class token, so the gradients are zero — said so
  const z = explain(model, rgb, [prompts[0]], { method: 'gradcam', layer: 'vision.blocks.-1' });
  t.ok(z.warnings.some((w) => w.includes('gradients at vision.blocks.2 are all zero')), `warning: ${z.warnings[0]}`);
  t.end();
});
