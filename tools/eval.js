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
// The harness itself is library code (src/eval/harness.ts: evaluate); this file parses arguments and prints.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runMain, parseArgs, helpText, packageVersion, UsageError, writeOutputsAtomically, repoRoot } from './lib/cli.js';
import { chooseBackend, backendNames } from './lib/backend.js';
import { evaluate, camMethods, presets, loadClip, loadScenes, loadVoc, loadCoco, DEFAULT_LAYER } from 'decomcam';

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
  log(`${dataset.name}: ${dataset.images.length} images, ${dataset.prompts.length} prompts; model ${opts.model}; methods ${methods.join(', ')}`);
  const res = await evaluate(model, dataset, {
    methods, preset: opts.preset, layer: opts.layer, limit: opts.limit, steps: opts.steps, tolerance: opts.tolerance,
    onPair: (k, n, im, o) => log(`[${k}/${n}] ${im.file.split('/').pop()} "${o.prompt}"`),
  });
  const { zeroShot, table } = res;
  const result = {
    decomcam: packageVersion(), model: resolve(opts.model), dataset: res.dataset, preset: res.preset,
    layer: opts.layer ?? DEFAULT_LAYER, pairs: res.pairs, steps: res.steps, tolerance: res.tolerance,
    zeroShot, table,
  };
  const json = JSON.stringify(result, null, 2);
  if (opts.out) writeOutputsAtomically(resolve(opts.out, '..'), { [resolve(opts.out).split('/').pop()]: `${json}\n` });
  if (opts.json) { process.stdout.write(`${json}\n`); return; }

  const zs = `zero-shot accuracy${isScenes ? ' (held-out scenes)' : ''}: ${(100 * zeroShot.accuracy).toFixed(1)}% of ${zeroShot.images} images` +
    (zeroShot.singleObjectAccuracy !== null ? `; single-object images ${(100 * zeroShot.singleObjectAccuracy).toFixed(1)}% of ${zeroShot.singleObjectImages}` : '');
  console.log(zs);
  console.log(`${res.pairs} image–text pairs; pointing tolerance ${opts.tolerance} px; deletion/insertion ${opts.steps} steps`);
  const cols = [['method', 13], ['pointing', 9], ['energyPG', 9], ['boxIoU', 7], ['deletion↓', 10], ['insertion↑', 11], ['drop%↓', 7], ['incr%↑', 7], ['s/pair', 7]];
  console.log(cols.map(([c, w]) => c.padEnd(w)).join(' '));
  for (const r of table) {
    const vals = [r.method, r.pointingGame.toFixed(3), r.energyPG.toFixed(3), r.boxIoU.toFixed(3), r.deletionAUC.toFixed(3),
      r.insertionAUC.toFixed(3), r.averageDrop.toFixed(1), r.increase.toFixed(1), r.secondsPerPair.toFixed(2)];
    console.log(vals.map((v, j) => String(v).padEnd(cols[j][1])).join(' '));
  }
}

runMain('eval', main);
