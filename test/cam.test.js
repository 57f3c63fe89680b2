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
import { explain, explainMethods, camMethods } from '../dist/cam/explain.js';
import { createRegistry, registerMethod, builtinMethods } from '../dist/cam/registry.js';
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

// How many DECOM_STAGES each fixture holds, by text and preset (text 1 has no blur or batch; the official
// preset has no s0): a stage missing from the fixture fails the count instead of being skipped silently.
const DECOM_STAGE_COUNT = { 0: { official: 14, paper: 15 }, 1: { official: 11, paper: 12 } };
// The optional baseline stages each method's fixture holds (raw and map always).
const BASELINE_STAGES = {
  gradcam: ['weights'], gradcampp: ['weights'], xgradcam: ['weights'], layercam: [], hirescam: [], eigencam: [],
  eigengradcam: [], scorecam: ['scores', 'weights'], gscorecam: ['top', 'scores', 'weights'],
};

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
      // P is given only where it differs from the default (500): the caller's P > C is warned about
      const P = meta.P[preset];
      const r = explain(model, rgb, prompts, { preset, ...(P !== 500 ? { P } : {}), trace: true });
      t.equal(r.results.length, 2, 'one result per text');
      r.results.forEach((res, k) => {
        const pre = `${dt}.${k}.${preset}`;
        assertClose(t, `${pre}.text.embeds`, encodeOne(model, prompts[k]), ref(`${dt}.${k}.text.embeds`), tol.forward);
        if (k === 0) assertClose(t, `${dt}.acts`, res.trace.acts.data, ref(`${dt}.acts`), tol.forward);
        t.deepEqual(Array.from(res.trace.top.data), Array.from(ref(`${pre}.top`), Number), `${pre}.top (exact, in order)`);
        let compared = 0;
        for (const [key, name, col] of DECOM_STAGES) {
          if (!fx.has(`${pre}.${key}`)) continue;
          assertClose(t, `${pre}.${key}`, ours(res, name), ref(`${pre}.${key}`), tol[col]);
          compared++;
        }
        t.equal(compared, DECOM_STAGE_COUNT[k][preset], `${pre}: ${compared} stages compared`);
      });
      // P = 500 > C = 128 on this model: all channels kept; the default P (500) takes a narrow layer whole
      // silently, a P the caller set that the layer cannot give is said — even the default's value, when set
      t.equal(r.warnings.some((w) => w.includes('exceeds')), false,
        `P ${P}${P === 500 ? ' (the default, not set)' : ''} vs C ${r.grid.C}: no warning`);
      if (preset === 'paper') {
        for (const given of [r.grid.C + 1, 500]) {
          const wide = explain(model, rgb, [prompts[0]], { preset, P: given });
          t.ok(wide.warnings.some((w) => w.includes(`top-P ${given} exceeds the layer's ${r.grid.C} channels`)),
            `P ${given} (given) vs C ${r.grid.C}: "${wide.warnings[0]}"`);
        }
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
    test(`${name} ${dt}: channel weights / raw map / final map, whatever DecomCAM's preset`, (t) => {
      const own = name === 'gscorecam' ? { topK: meta.topK } : {};
      const r = explain(model, rgb, [prompts[0]], { method: name, ...own, trace: true });
      const res = r.results[0];
      const pre = `${dt}.${name}`;
      const optional = BASELINE_STAGES[name];
      t.deepEqual(['top', 'scores', 'weights'].filter((k) => fx.has(`${pre}.${k}`)), optional, `${pre}: fixture stages ${optional.join(', ') || 'raw and map only'}`);
      if (optional.includes('top')) {
        t.deepEqual(Array.from(res.trace.top.data), Array.from(ref(`${pre}.top`), Number), `${pre}.top (exact, in order)`);
      }
      if (optional.includes('scores')) assertClose(t, `${pre}.scores`, res.trace.scores.data, ref(`${pre}.scores`), tol.derived);
      if (optional.includes('weights')) assertClose(t, `${pre}.weights`, res.channelWeights.data, ref(`${pre}.weights`), tol.derived);
      assertClose(t, `${pre}.raw`, res.trace.raw.data, ref(`${pre}.raw`), tol.derived);
      assertClose(t, `${pre}.map`, res.map.data, ref(`${pre}.map`), tol.map);
      // beside DecomCAM under either preset (as tools/eval.js --preset runs them, sharing the forward and the
      // backward): the same map as the fixture, and bit for bit the same under both presets
      const maps = ['paper', 'official'].map((preset) => {
        const [d, b] = explainMethods(model, rgb, [prompts[0]], [{ method: 'decomcam', preset }, { method: name, ...own }]);
        t.equal(d.preset, preset, `decomcam ran with preset ${preset} (score ${d.results[0].scoreKind})`);
        t.equal(b.results[0].scoreKind, 'cosine', `${name} beside decomcam ${preset}: scored by cosine`);
        assertClose(t, `${pre}.map beside decomcam ${preset}`, b.results[0].map.data, ref(`${pre}.map`), tol.map);
        return b.results[0].map.data;
      });
      t.ok(maps[0].every((v, i) => v === maps[1][i]) && maps[0].every((v, i) => v === res.map.data[i]),
        `${name}: identical maps alone and beside decomcam paper / official`);
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
  const c = explain(model, rgb, [textTarget(prompts[0], { score: 'scaledDot' })], { method: 'gradcam' }).results[0];
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
    [() => explain(model, rgb, ['a cat'], { score: 'dot' }), /option score of method decomcam: "dot" is unknown/],
    [() => explain(model, rgb, [textTarget('a cat', { score: 'dot' })], { method: 'gradcam' }), /score kind "dot" is unknown/],
    [() => explain(model, rgb, ['a cat'], { method: 'gradcam', Q: 3 }), /option Q is not an option of method gradcam: its options are none \(Q is an option of decomcam\)/],
    [() => explain(model, rgb, ['a cat'], { method: 'gradcam', score: 'logit' }), /option score is not an option of method gradcam/],
    [() => explain(model, rgb, ['a cat'], { method: 'scorecam', topK: 3 }), /option topK is not an option of method scorecam: its options are batchSize \(topK is an option of gscorecam\)/],
    [() => explain(model, rgb, ['a cat'], { method: 'gradcam', preset: 'official' }), /method gradcam has no presets/],
    [() => explain(model, rgb, ['a cat'], { preset: 'toString' }), /preset "toString" is unknown for method decomcam: expected one of official, paper/],
    [() => explain(model, rgb, ['a cat'], { method: 'toString' }), /method "toString" is unknown/],
    [() => explain(model, rgb, ['a cat'], { P: '40' }), /option P = "40" of method decomcam: expected a number/],
    [() => explain(model, rgb, ['a cat'], { frobnicate: 1 }), /option frobnicate is not an option of method decomcam/],
    [() => explain(model, rgb, ['a cat'], { method: 'gscorecam', topK: 0 }), /option topK = 0 of method gscorecam/],
    [() => explain(model, { data: new Float64Array(12), shape: [3, 2, 2] }, ['a cat'], {}), /\[3, 32, 32\]/],
    [() => explain(model, { width: 2, height: 2, data: new Uint8Array(5) }, ['a cat'], {}), /decoded RGB image/],
    [() => explain(model, rgb, [embeddingTarget(new Float32Array(5))], {}), /has 5 values/],
  ];
  for (const [fn, re] of bad) t.throws(fn, re, `rejects: ${re}`);
  // the last block's output: its patch tokens do not feed the class token, so the gradients are zero — said so
  const z = explain(model, rgb, [prompts[0]], { method: 'gradcam', layer: 'vision.blocks.-1' });
  t.ok(z.warnings.some((w) => w.includes('gradients at vision.blocks.2 are all zero')), `warning: ${z.warnings[0]}`);
  // a Q the layer cannot give fails before any forward runs (the model's forward is never reached)
  const noForward = { ...model, backend: new Proxy(model.backend, { get() { throw new Error('the forward ran'); } }) };
  t.throws(() => explain(noForward, rgb, ['a cat'], { Q: 65 }), /Q = 65/, 'Q > h·w fails before the forward');
  t.end();
});

test('method registry: extended without changing the built-ins; a custom method is typed by its own options', (t) => {
  const model = loadClip(modelDir, { dtype: 'float32' });
  // a method of our own: Grad-CAM with its weights raised to a power (an option of its own)
  const powered = {
    name: 'poweredcam', title: 'Grad-CAM, weights to a power', usesGradients: true, defaults: { power: 1 },
    channelWeights(acts, grads, grid, ctx) {
      return camMethods.gradcam.channelWeights(acts, grads, grid, ctx).map((w) => Math.sign(w) * Math.abs(w) ** ctx.options.power);
    },
  };
  const registry = createRegistry(powered);
  t.ok(registry.has('poweredcam') && !builtinMethods.has('poweredcam') && !('poweredcam' in camMethods), 'built-ins unchanged');
  const again = registerMethod(builtinMethods, powered);
  t.ok(again.has('poweredcam') && !builtinMethods.has('poweredcam'), 'registerMethod returns a new registry');
  t.throws(() => builtinMethods.set('x', powered), /read-only/, 'the built-in registry cannot be changed');
  t.throws(() => { camMethods.x = powered; }, TypeError, 'camMethods is frozen');
  const g = explain(model, rgb, [prompts[0]], { method: 'gradcam' }).results[0];
  const p1 = explain(model, rgb, [prompts[0]], { method: 'poweredcam', methods: registry }).results[0];
  const p1b = explain(model, rgb, [prompts[0]], { method: powered }).results[0];
  assertClose(t, 'poweredcam (power 1, by name) = gradcam', p1.map.data, g.map.data, 0);
  assertClose(t, 'poweredcam (power 1, by object) = gradcam', p1b.map.data, g.map.data, 0);
  const p2 = explain(model, rgb, [prompts[0]], { method: 'poweredcam', methods: registry, power: 2 });
  t.equal(p2.options.power, 2, 'its own option resolved');
  t.throws(() => explain(model, rgb, [prompts[0]], { method: 'poweredcam', methods: registry, Q: 2 }),
    /option Q is not an option of method poweredcam: its options are power \(Q is an option of decomcam\)/, 'misplaced option named');
  t.throws(() => explain(model, rgb, [prompts[0]], { method: 'poweredcam' }), /method "poweredcam" is unknown/, 'not in the built-ins');
  t.throws(() => createRegistry({ name: 'broken', defaults: {} }), /exactly one of channelWeights, rawMap, fullMap/, 'a method must compute something');
  t.end();
});
