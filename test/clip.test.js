// test/clip.test.js: the TypeScript CLIP against PyTorch (reference/clip_model.py via reference/clip_fixtures.py):
//   - the tiny CLIP loaded from a Hugging Face folder (float16 weights), float32 and float64: every vision stage,
//     text embeddings (token ids and our tokenizer), logits, gradients of a cosine score at eleven layers and
//     weight gradients; the same model in OpenAI naming gives identical embeddings and scores;
//   - a second tiny CLIP built by seededClip (gelu, 4 heads, 3×3 grid), float32 and float64;
//   (the seeded full-size ViT-B/16 is test/clip_b16.test.js);
//   - clear errors for bad layers, checkpoints, tokens and pixels.
// Tolerances: test/clip_tolerances.js (float32 forward 1e-5, gradients 1e-4; float64 1e-12).
import test from 'tape';
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors } from '../dist/io/safetensors.js';
import { loadClip } from '../dist/clip/load.js';
import { parseHfConfig } from '../dist/clip/config.js';
import { seededClip, encodeTokens, encodeTexts, encodeImages, clipLogits } from '../dist/clip/model.js';
import { visionForward, visionBackward, getActivation, resolveLayer } from '../dist/clip/vision.js';
import { allocParams, param } from '../dist/clip/weights.js';
import { seededUniform } from '../dist/tensor/rng.js';
import { tensor } from '../dist/tensor/tensor.js';
import { floatToHalf, halfToFloat } from '../dist/io/half.js';
import { assertClose, fixturesDir } from './helpers/compare.js';
import { TOL } from './clip_tolerances.js';

const HF_DIR = join(fixturesDir, 'tiny_clip_hf');
const OPENAI_DIR = join(fixturesDir, 'tiny_clip_openai');
const SUFFIX = { float32: 'f32', float64: 'f64' };

function fixture(name) {
  const file = readSafetensors(join(fixturesDir, `${name}.safetensors`));
  const meta = JSON.parse(readFileSync(join(fixturesDir, `${name}.json`), 'utf8'));
  const get = (n) => {
    const t = file.tensors.get(n);
    if (!t) throw new Error(`fixture ${name} has no tensor ${n}`);
    return tensor(t.data, t.shape);
  };
  const rows = (n) => { // an (R, T) int32 tensor as R Int32Arrays
    const t = file.tensors.get(n);
    return Array.from({ length: t.shape[0] }, (_, i) => t.data.slice(i * t.shape[1], (i + 1) * t.shape[1]));
  };
  return { get, rows, meta, names: [...file.tensors.keys()] };
}

// every fixture stage of the vision tower, read back by name from our run
function compareStages(t, run, fx, tol) {
  for (const name of fx.names.filter((n) => n.startsWith('vision.'))) {
    assertClose(t, name, getActivation(run, name).data, fx.get(name).data, tol.forward);
  }
}

function compareGrads(t, model, run, fx, tol) {
  const dEmb = fx.get('score.dembeds');
  for (const name of fx.names.filter((n) => n.startsWith('grad.'))) {
    const layer = name.slice('grad.'.length);
    assertClose(t, name, visionBackward(model, run, dEmb, layer).data, fx.get(name).data, tol.grad);
  }
}

const sameBits = (a, b) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

for (const dtype of ['float32', 'float64']) {
  const tol = TOL[dtype];
  const fx = fixture(`clip_tiny_${SUFFIX[dtype]}`);

  test(`clip tiny (${dtype}, HF folder): every vision stage, text embeddings, logits`, (t) => {
    const model = loadClip(HF_DIR, { dtype });
    t.equal(model.dtype, dtype, `model.dtype is ${dtype}`);
    assertClose(t, 'logit_scale', [model.logitScale], fx.get('logit_scale').data, 0);
    const run = visionForward(model, fx.get('pixels'));
    compareStages(t, run, fx, tol);
    const ids = fx.rows('text.ids');
    const text = encodeTokens(model, ids);
    assertClose(t, 'text.embeds (token ids)', text.data, fx.get('text.embeds').data, tol.forward);
    const E = model.config.embedDim;
    t.ok(sameBits(text.data.subarray(0, E), text.data.subarray(3 * E, 4 * E)),
      'zero-padded (OpenAI) and eot-padded (HF) ids give the same embedding, bit for bit');
    const texts = fx.meta.texts.slice(0, 3);
    texts.forEach((s, i) => {
      const ours = model.tokenizer.tokenize(s, 77);
      if (i !== 1) t.ok(sameBits(ours, ids[i]), `tokenizer("${s}") = the fixture's ids`);
    });
    const fromText = encodeTexts(model, texts);
    assertClose(t, 'text.embeds (texts)', fromText.data, fx.get('text.embeds').data.subarray(0, 3 * E), tol.forward);
    const logits = clipLogits(model, run.embeddings, text);
    assertClose(t, 'logits', logits.data, fx.get('logits').data, tol.forward);
    assertClose(t, 'encodeImages', encodeImages(model, fx.get('pixels')).data, fx.get('vision.embeds').data, tol.forward);
    t.end();
  });

  test(`clip tiny (${dtype}): score gradients at every named layer, weight gradients`, (t) => {
    const model = loadClip(HF_DIR, { dtype });
    const run = visionForward(model, fx.get('pixels'));
    compareGrads(t, model, run, fx, tol);
    // weight gradients from one backward to the pixels
    const wg = allocParams(model.config, dtype);
    visionBackward(model, run, fx.get('score.dembeds'), 'vision.pixels', { weightGrads: wg });
    for (const name of fx.names.filter((n) => n.startsWith('wgrad.'))) {
      const hf = name.slice('wgrad.'.length);
      const spec = wg.specs.find((s) => s.hf.includes(hf));
      const n = spec.hf.length === 1 ? param(wg, spec.name).length : param(wg, spec.name).length / 3;
      const i = spec.hf.indexOf(hf);
      assertClose(t, `${name} (ours ${spec.name})`, param(wg, spec.name).subarray(i * n, (i + 1) * n), fx.get(name).data, tol.grad);
    }
    t.end();
  });

  const gfx = fixture(`clip_tiny_gelu_${SUFFIX[dtype]}`);
  test(`clip tiny gelu (${dtype}, seededClip): stages, text, gradients`, (t) => {
    const config = parseHfConfig(gfx.meta.config, 'clip_tiny_gelu.json');
    const model = seededClip(config, gfx.meta.model_seed, dtype);
    const px = gfx.get('pixels');
    const ours = seededUniform(gfx.meta.pixel_seed, 'pixels', px.data.length, 2, 0, dtype);
    t.ok(sameBits(ours, px.data), 'seeded pixels equal reference/seeded.py bit for bit');
    const run = visionForward(model, px);
    compareStages(t, run, gfx, tol);
    assertClose(t, 'text.embeds', encodeTokens(model, gfx.rows('text.ids')).data, gfx.get('text.embeds').data, tol.forward);
    compareGrads(t, model, run, gfx, tol);
    t.end();
  });
}

test('clip tiny: HF and OpenAI checkpoints of the same weights give identical embeddings and scores', (t) => {
  const fx = fixture('clip_tiny_f32');
  const hf = loadClip(HF_DIR);
  const oa = loadClip(OPENAI_DIR);
  t.deepEqual(oa.config, hf.config, 'config inferred from the OpenAI shapes = config.json');
  t.ok(sameBits(oa.params.data, hf.params.data), 'every parameter identical (q/k/v split, projections transposed)');
  const px = fx.get('pixels');
  const texts = fx.meta.texts.slice(0, 3);
  const lh = clipLogits(hf, encodeImages(hf, px), encodeTexts(hf, texts));
  const lo = clipLogits(oa, encodeImages(oa, px), encodeTexts(oa, texts));
  t.ok(sameBits(lh.data, lo.data), `identical scores: ${Array.from(lh.data, (x) => x.toFixed(6)).join(' ')}`);
  const oaFile = loadClip(join(OPENAI_DIR, 'tiny_clip.safetensors'));
  t.ok(sameBits(oaFile.params.data, hf.params.data), 'the OpenAI .safetensors path itself loads the same');
  t.end();
});

test('clip tiny: the checkpoint holds seededClip\'s weights rounded to float16, bit for bit', (t) => {
  const hf = loadClip(HF_DIR);
  const seeded = seededClip(hf.config, 7, 'float32');
  const rounded = seeded.params.data.map((x) => halfToFloat(floatToHalf(x)));
  t.ok(sameBits(rounded, hf.params.data), `all ${rounded.length} parameters: TS seededUniform = numpy seeded_uniform, then torch .half()`);
  t.end();
});

test('clip tiny: keep list — the last block runs the class token alone, results unchanged', (t) => {
  const fx = fixture('clip_tiny_f64');
  const model = loadClip(HF_DIR, { dtype: 'float64' });
  const px = fx.get('pixels');
  const full = visionForward(model, px);
  const lean = visionForward(model, px, { keep: ['vision.blocks.-1.ln_1'] });
  t.equal(lean.nqLast, 1, 'class token only after the last attention');
  t.equal(lean.blocks.filter((b) => b).length, 1, 'only the last block kept its activations');
  t.ok(sameBits(lean.embeddings.data, full.embeddings.data), 'embeddings bit for bit');
  const dEmb = fx.get('score.dembeds');
  const a = visionBackward(model, full, dEmb, 'vision.blocks.2.ln_1');
  const b = visionBackward(model, lean, dEmb, 'vision.blocks.-1.ln_1');
  assertClose(t, 'grad at blocks.2.ln_1, lean vs full run', b.data, a.data, 1e-15);
  assertClose(t, 'lean grad vs PyTorch', b.data, fx.get('grad.vision.blocks.2.ln_1').data, TOL.float64.grad);
  t.throws(() => getActivation(lean, 'vision.blocks.1'), /not kept by this forward pass: pass \{ keep: \['vision\.blocks\.1'\] \}/,
    'an activation not kept is named, with the fix');
  t.throws(() => visionBackward(model, lean, dEmb, 'vision.blocks.2.ln_2'), /did not keep what it needs \(pass \{ keep: \['vision\.blocks\.2\.ln_2'\] \}/,
    'so is a backward to it');
  t.throws(() => visionBackward(model, lean, dEmb, 'vision.embed'), /did not keep what it needs/,
    'and a backward past the kept blocks (stem activations are always kept, the blocks before it were not)');
  t.end();
});

test('clip: layer names resolve, or the error lists the valid ones', (t) => {
  const { config } = loadClip(HF_DIR);
  t.equal(resolveLayer(config, 'vision.blocks.-1.ln_1'), 'vision.blocks.2.ln_1', 'negative N counts from the end');
  t.equal(resolveLayer(config, 'vision.blocks.1.output'), 'vision.blocks.1', '.output is the block itself');
  t.throws(() => resolveLayer(config, 'vision.blocks.3'), /layer "vision\.blocks\.3" not found: this model has blocks 0-2 \(try vision\.blocks\.2\)/, 'a block past the end: the valid range and a suggestion');
  t.throws(() => resolveLayer(config, 'vision.blocks.-4.ln_1'), /blocks 0-2/, 'a negative block past the start');
  t.throws(() => resolveLayer(config, 'text.blocks.0'), /not recognised; valid layers: vision\.pixels, vision\.embed/, 'an unknown name lists the valid ones');
  t.end();
});

test('clip: bad checkpoints, tokens and pixels give clear errors', (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'decomcam-clip-'));
  const src = readSafetensors(join(HF_DIR, 'model.safetensors')).tensors;
  const config = JSON.parse(readFileSync(join(HF_DIR, 'config.json'), 'utf8'));
  const folder = (name, tensors, cfg) => {
    const dir = join(tmp, name);
    mkdirSync(dir);
    if (cfg) writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
    if (tensors) writeSafetensors(join(dir, cfg ? 'model.safetensors' : 'model_openai.safetensors'), tensors);
    return dir;
  };
  const without = new Map(src);
  without.delete('vision_model.encoder.layers.1.mlp.fc1.weight');
  t.throws(() => loadClip(folder('missing', without, config)),
    /tensor "vision_model\.encoder\.layers\.1\.mlp\.fc1\.weight" not found in .*model\.safetensors/, 'a missing tensor is named');
  const wide = structuredClone(config);
  wide.vision_config.intermediate_size = 512;
  t.throws(() => loadClip(folder('mismatch', src, wide)),
    /tensor "vision_model\.encoder\.layers\.0\.mlp\.fc1\.weight" in .* has shape \[256, 128\], but .*config\.json implies \[512, 128\]/,
    'a shape that contradicts config.json is named with both shapes');
  const extra = new Map(src);
  extra.set('vision_model.encoder.layers.3.layer_norm1.weight', src.get('vision_model.encoder.layers.0.layer_norm1.weight'));
  t.throws(() => loadClip(folder('extra', extra, config)), /1 tensor\(s\) that .* does not describe: "vision_model\.encoder\.layers\.3\.layer_norm1\.weight"/,
    'a tensor the config does not describe is named');
  t.throws(() => loadClip(folder('siglip', src, { ...config, model_type: 'siglip' })), /model_type is "siglip", only "clip"/, 'another architecture is refused by name');
  t.throws(() => loadClip(folder('act', src, { ...config, vision_config: { ...config.vision_config, hidden_act: 'relu' } })),
    /hidden_act is "relu": supported activations are "quick_gelu" and "gelu"/, 'an unsupported activation is named');
  const resnet = new Map([['visual.conv1.weight', { dtype: 'F32', shape: [32, 3, 3, 3], data: new Float32Array(864) }],
    ['visual.layer1.0.conv1.weight', { dtype: 'F32', shape: [1], data: new Float32Array(1) }]]);
  t.throws(() => loadClip(folder('resnet', resnet, null)), /a ResNet CLIP needs visual\.layer1-4; no visual\.layer2\.\* tensor/,
    'a broken ResNet checkpoint (ResNet CLIPs load since issue 15: test/resnet_tiny.test.js) is refused by name');
  t.throws(() => loadClip(folder('hfnoconfig', src, null)), /Hugging Face tensor names but .*config\.json is missing/, 'HF weights without config.json');
  t.throws(() => loadClip(folder('empty', null, null)), /holds no CLIP model/, 'a folder without weights');
  t.throws(() => loadClip(join(tmp, 'nope')), /does not exist/, 'a missing folder');
  copyFileSync(join(HF_DIR, 'config.json'), join(folder('nosafetensors', null, null), 'config.json'));
  t.throws(() => loadClip(join(tmp, 'nosafetensors')), /has config\.json but no model\.safetensors/, 'config.json without weights');

  const model = loadClip(HF_DIR);
  const eot = model.config.text.eotId;
  t.throws(() => encodeTokens(model, [Int32Array.from([eot - 1, 5, 6])]), /token sequence 0 has no end-of-text token \(id 550\)/, 'tokens without end-of-text');
  t.throws(() => encodeTokens(model, [Int32Array.from([5, eot]), Int32Array.from([5, 9999, eot])]),
    /token sequence 1 holds id 9999 at position 1, outside the vocabulary 0-550/, 'an id outside the vocabulary');
  t.throws(() => encodeTokens(model, [new Int32Array(78).fill(eot)]), /78 tokens, more than this model's context of 77/, 'a sequence longer than the context');
  t.throws(() => encodeImages(model, tensor(new Float32Array(3 * 224 * 224), [1, 3, 224, 224])),
    /pixels have shape \[1, 3, 224, 224\], expected \[B, 3, 32, 32\]/, 'pixels of the wrong size');
  const run = visionForward(model, tensor(new Float32Array(2 * 3 * 32 * 32), [2, 3, 32, 32]));
  t.throws(() => visionBackward(model, run, tensor(new Float32Array(32), [1, 32]), 'vision.blocks.0'),
    /dEmbeddings has shape \[1, 32\], expected \[2, 32\]/, 'a gradient of the wrong batch');
  t.end();
});
