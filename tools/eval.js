#!/usr/bin/env node
// tools/eval.js: every CAM method over an annotated dataset, one row a method, one column a metric.
//   node tools/eval.js                          # the held-out generated scenes and the shipped model
//   node tools/eval.js --voc DIR --model ~/clip-vit-b16 --limit 20
//   node tools/eval.js --coco annotations.json --methods decomcam,gradcam --json
// Metrics (src/eval/): pointing game (hit within --tolerance px of the object at the original resolution),
// energy-based pointing game (share of map mass in the mask, else the boxes), box IoU (largest region at
// 0.5·max), deletion and insertion AUC (--steps steps, mean-colour substrate, score = the prompt's softmax
// probability among the dataset's prompts), average drop / increase in confidence (same probability).
// Progress on stderr; the table on stdout (or its JSON with --json; --out FILE writes the JSON too).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runMain, parseArgs, helpText, packageVersion, UsageError, writeOutputsAtomically, repoRoot } from './lib/cli.js';
import { chooseBackend, backendNames } from './lib/backend.js';
import { explain, camMethods } from '../dist/cam/explain.js';
import { presets } from '../dist/cam/decomcam.js';
import { loadClip } from '../dist/clip/load.js';
import { encodeImages, encodeTexts } from '../dist/clip/model.js';
import { loadImage } from '../dist/image/decode.js';
import { centerCropResize, toTensor, normalize } from '../dist/image/preprocess.js';
import { loadScenes, loadVoc, loadCoco } from '../dist/eval/datasets.js';
import { clipCenterCropFrame } from '../dist/eval/frame.js';
import { pointingGame } from '../dist/eval/pointing.js';
import { energyPointingGame } from '../dist/eval/energy.js';
import { mapBoxIou } from '../dist/eval/boxiou.js';
import { deletionCurve, insertionCurve } from '../dist/eval/deletion.js';
import { camMultImage, averageDropIncrease } from '../dist/eval/confidence.js';

const DEFAULT_MODEL = join(repoRoot, 'weights', 'tiny-clip');
const DEFAULT_SCENES = join(repoRoot, 'weights', 'scenes-heldout');
const ALL = Object.keys(camMethods);

const SPEC = {
  model: { type: 'string', default: DEFAULT_MODEL, help: 'CLIP model folder' },
  scenes: { type: 'string', help: `generated scenes folder (default dataset: ${DEFAULT_SCENES})` },
  voc: { type: 'string', help: 'a folder of Pascal VOC XML annotations beside their JPEGs' },
  coco: { type: 'string', help: 'a COCO-style annotations JSON, images beside it' },
  methods: { type: 'string', default: ALL.join(','), help: 'comma-separated CAM methods' },
  preset: { type: 'string', default: 'paper', choices: Object.keys(presets), help: 'DecomCAM preset' },
  layer: { type: 'string', help: 'target layer (default vision.blocks.-1.ln_1)' },
  limit: { type: 'int', min: 1, help: 'evaluate only the first N image–text pairs' },
  steps: { type: 'int', min: 1, default: 20, help: 'deletion/insertion steps' },
  tolerance: { type: 'float', min: 0, default: 15, help: 'pointing-game tolerance in original pixels' },
  dtype: { type: 'string', default: 'float32', choices: ['float32', 'float64'], help: 'arithmetic precision' },
  backend: { type: 'string', default: 'auto', choices: backendNames(), help: 'compute backend: auto, ts, wasm or gpu' },
  json: { type: 'bool', help: 'print the JSON result instead of the table' },
  out: { type: 'string', help: 'also write the JSON result to this file' },
  help: { type: 'bool', help: 'show this help' },
  version: { type: 'bool', help: 'show the version' },
};

const log = (msg) => process.stderr.write(`${msg}\n`);

function mean(xs) {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

// softmax(exp(logit_scale) · cos) over the prompt set, for each image embedding row: (B,E) → (B,P) probabilities.
function probabilities(model, emb, B, textUnit, P) {
  const E = model.config.embedDim;
  const scale = Math.exp(model.logitScale);
  const out = new Float64Array(B * P);
  for (let b = 0; b < B; b++) {
    let n = 0;
    for (let e = 0; e < E; e++) n += emb[b * E + e] ** 2;
    n = Math.sqrt(n);
    let max = -Infinity;
    for (let p = 0; p < P; p++) {
      let dot = 0;
      for (let e = 0; e < E; e++) dot += emb[b * E + e] * textUnit[p * E + e];
      out[b * P + p] = (scale * dot) / n;
      max = Math.max(max, out[b * P + p]);
    }
    let sum = 0;
    for (let p = 0; p < P; p++) { out[b * P + p] = Math.exp(out[b * P + p] - max); sum += out[b * P + p]; }
    for (let p = 0; p < P; p++) out[b * P + p] /= sum;
  }
  return out;
}

function unitRows(t, E) {
  const out = new Float64Array(t.data.length);
  for (let r = 0; r < t.data.length / E; r++) {
    let n = 0;
    for (let e = 0; e < E; e++) n += t.data[r * E + e] ** 2;
    n = Math.sqrt(n);
    for (let e = 0; e < E; e++) out[r * E + e] = t.data[r * E + e] / n;
  }
  return out;
}

// RGB crops in [0, 1], each (3,S,S) → normalised batch (B,3,S,S) in the model's dtype.
function batchPixels(model, crops, S) {
  const B = crops.length;
  const data = model.dtype === 'float64' ? new Float64Array(B * 3 * S * S) : new Float32Array(B * 3 * S * S);
  crops.forEach((c, b) => data.set(normalize({ data: c, shape: [3, S, S] }).data, b * 3 * S * S));
  return { data, shape: [B, 3, S, S] };
}

function maskOf(file, width, height) {
  const img = loadImage(file);
  if (img.width !== width || img.height !== height) throw new UsageError(`mask ${file} is ${img.width}×${img.height}, its image ${width}×${height}`);
  const m = new Uint8Array(width * height);
  for (let i = 0; i < m.length; i++) m[i] = img.data[i * 3] > 127 ? 1 : 0;
  return m;
}

async function main(argv) {
  const opts = parseArgs(argv, SPEC);
  if (opts.help) { console.log(helpText('usage: node tools/eval.js [--scenes DIR | --voc DIR | --coco FILE] [options]', SPEC)); return; }
  if (opts.version) { console.log(`decomcam ${packageVersion()}`); return; }
  const sources = ['scenes', 'voc', 'coco'].filter((k) => opts[k]);
  if (sources.length > 1) throw new UsageError(`give one dataset, not ${sources.map((s) => `--${s}`).join(' and ')}`);
  const methods = opts.methods.split(',').map((m) => m.trim()).filter(Boolean);
  for (const m of methods) if (!camMethods[m]) throw new UsageError(`method "${m}" is unknown: expected some of ${ALL.join(', ')}`);
  if (!existsSync(opts.model)) throw new UsageError(`model folder ${opts.model} does not exist`);

  const dataset = opts.voc ? loadVoc(opts.voc) : opts.coco ? loadCoco(opts.coco) : loadScenes(opts.scenes ?? DEFAULT_SCENES);
  const isScenes = !opts.voc && !opts.coco;
  const backend = await chooseBackend(opts.backend, log);
  const model = loadClip(opts.model, { dtype: opts.dtype, backend });
  const S = model.config.vision.imageSize;
  const E = model.config.embedDim;
  const P = dataset.prompts.length;
  const textUnit = unitRows(encodeTexts(model, dataset.prompts), E);
  log(`${dataset.name}: ${dataset.images.length} images, ${P} prompts; model ${opts.model}; methods ${methods.join(', ')}`);

  // zero-shot accuracy: the top prompt names an object of the image (all images; and single-object ones alone)
  const crops = [];
  let hits = 0, single = 0, singleHits = 0;
  for (const im of dataset.images) {
    const crop = Float64Array.from(toTensor(centerCropResize(loadImage(im.file), S), 'float64').data);
    crops.push(crop);
    const prob = probabilities(model, encodeImages(model, batchPixels(model, [crop], S)).data, 1, textUnit, P);
    let top = 0;
    for (let p = 1; p < P; p++) if (prob[p] > prob[top]) top = p;
    const hit = im.objects.some((o) => o.prompt === dataset.prompts[top]);
    hits += hit;
    if (im.objects.length === 1) { single++; singleHits += hit; }
  }
  const zeroShot = { accuracy: hits / dataset.images.length, images: dataset.images.length,
    singleObjectAccuracy: single ? singleHits / single : null, singleObjectImages: single };

  // the image–text pairs
  let pairs = dataset.images.flatMap((im, i) => im.objects.map((o) => ({ i, im, o })));
  if (opts.limit) pairs = pairs.slice(0, opts.limit);
  const rows = {};
  for (const m of methods) rows[m] = { pointing: [], energy: [], boxIou: [], deletion: [], insertion: [], Y: [], O: [], seconds: [] };

  for (const [k, { i, im, o }] of pairs.entries()) {
    const image = loadImage(im.file);
    const frame = clipCenterCropFrame(im.height, im.width, S, S, S);
    const region = o.maskFile ? { mask: maskOf(o.maskFile, im.width, im.height) } : { boxes: o.boxes };
    const p = dataset.prompts.indexOf(o.prompt);
    const scorer = (imgs) => {
      const probs = probabilities(model, encodeImages(model, batchPixels(model, imgs, S)).data, imgs.length, textUnit, P);
      return Array.from({ length: imgs.length }, (_, b) => probs[b * P + p]);
    };
    const Y = scorer([crops[i]])[0];
    for (const m of methods) {
      const t0 = performance.now();
      const ex = explain(model, image, [o.prompt], { method: m, preset: opts.preset, layer: opts.layer });
      const seconds = (performance.now() - t0) / 1000;
      const map = ex.results[0].map.data;
      const r = rows[m];
      r.seconds.push(seconds);
      r.pointing.push(pointingGame(map, S, S, region, { tolerance: opts.tolerance, frame }).hit ? 1 : 0);
      r.energy.push(energyPointingGame(map, S, S, region, { frame }));
      r.boxIou.push(mapBoxIou(map, S, S, o.boxes, { frame }).iou);
      r.deletion.push((await deletionCurve(crops[i], map, S, S, scorer, { steps: opts.steps })).auc);
      r.insertion.push((await insertionCurve(crops[i], map, S, S, scorer, { steps: opts.steps })).auc);
      r.Y.push(Y);
      r.O.push(scorer([camMultImage(crops[i], map, S, S)])[0]);
    }
    log(`[${k + 1}/${pairs.length}] ${im.file.split('/').pop()} "${o.prompt}"`);
  }

  const table = methods.map((m) => {
    const r = rows[m];
    const di = r.Y.length ? averageDropIncrease(r.Y, r.O) : { averageDrop: NaN, increase: NaN };
    return {
      method: m, pairs: r.seconds.length,
      pointingGame: mean(r.pointing), energyPG: mean(r.energy), boxIoU: mean(r.boxIou),
      deletionAUC: mean(r.deletion), insertionAUC: mean(r.insertion),
      averageDrop: di.averageDrop, increase: di.increase, secondsPerPair: mean(r.seconds),
    };
  });
  const result = {
    decomcam: packageVersion(), model: resolve(opts.model), dataset: dataset.name, preset: opts.preset,
    layer: opts.layer ?? 'vision.blocks.-1.ln_1', pairs: pairs.length, steps: opts.steps, tolerance: opts.tolerance,
    zeroShot, table,
  };
  const json = JSON.stringify(result, null, 2);
  if (opts.out) writeOutputsAtomically(resolve(opts.out, '..'), { [resolve(opts.out).split('/').pop()]: `${json}\n` });
  if (opts.json) { process.stdout.write(`${json}\n`); return; }

  const zs = `zero-shot accuracy${isScenes ? ' (held-out scenes)' : ''}: ${(100 * zeroShot.accuracy).toFixed(1)}% of ${zeroShot.images} images` +
    (zeroShot.singleObjectAccuracy !== null ? `; single-object images ${(100 * zeroShot.singleObjectAccuracy).toFixed(1)}% of ${single}` : '');
  console.log(zs);
  console.log(`${pairs.length} image–text pairs; pointing tolerance ${opts.tolerance} px; deletion/insertion ${opts.steps} steps`);
  const cols = [['method', 13], ['pointing', 9], ['energyPG', 9], ['boxIoU', 7], ['deletion↓', 10], ['insertion↑', 11], ['drop%↓', 7], ['incr%↑', 7], ['s/pair', 7]];
  console.log(cols.map(([c, w]) => c.padEnd(w)).join(' '));
  for (const r of table) {
    const vals = [r.method, r.pointingGame.toFixed(3), r.energyPG.toFixed(3), r.boxIoU.toFixed(3), r.deletionAUC.toFixed(3),
      r.insertionAUC.toFixed(3), r.averageDrop.toFixed(1), r.increase.toFixed(1), r.secondsPerPair.toFixed(2)];
    console.log(vals.map((v, j) => String(v).padEnd(cols[j][1])).join(' '));
  }
}

runMain('eval', main);
