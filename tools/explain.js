#!/usr/bin/env node
// tools/explain.js: the main job. An image and one or more texts in; per text a saliency map (DecomCAM or a
// baseline), its OSSMs and their weights out, as PNGs, a safetensors file and result.json.
//   node tools/explain.js                                   # the shipped model and sample scene
//   node tools/explain.js --image cat.jpg --text "a cat" --text "a dog" --model ~/clip-vit-b16
// Progress and timings go to stderr; --json prints result.json on stdout. Exit 2: usage, 1: runtime.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runMain, parseArgs, helpText, packageVersion, UsageError, writeOutputsAtomically, repoRoot } from './lib/cli.js';
import {
  explain, camMethods, presets, loadClip, decodeImage, encodePng, applyJet, overlay, serializeSafetensors,
} from 'decomcam';
import { chooseBackend, backendNames } from './lib/backend.js';
import { checkModelFiles, readRegularFile, checkOutputsSpareInputs, MAX_IMAGE_BYTES, MAX_TEXT_BYTES } from './lib/files.js';

const DEFAULT_MODEL = join(repoRoot, 'weights', 'tiny-clip');
// σ in pixels of the model's input (224 for ViT-B/16): beyond ~S/2 the blur is already nearly flat; the kernel
// has 8σ+1 taps, so a bound keeps it to seconds (σ 1e6 would take hours, σ 1e9 cannot be allocated).
const MAX_SIGMA = 1000;
// The files written per text (components.png only for DecomCAM), checked against the inputs before any work.
const PER_TEXT_FILES = ['overlay.png', 'map.png', 'maps.safetensors', 'components.png'];

const SPEC = {
  model: { type: 'string', default: DEFAULT_MODEL, help: 'CLIP model folder (HF config.json + model.safetensors, or OpenAI-named .safetensors: ViT or ResNet RN50/RN101/RN50x4/x16/x64)' },
  vocab: { type: 'string', help: 'tokenizer folder or a file in it (vocab.json + merges.txt, or bpe_simple_vocab_16e6.txt.gz) when none is beside the model' },
  image: { type: 'string', help: 'image file, JPEG or PNG (default: the sample scene shipped with the model)' },
  text: { type: 'list', help: 'text to explain; repeat for several (all share one image forward)' },
  method: { type: 'string', default: 'decomcam', choices: Object.keys(camMethods), help: `CAM method: ${Object.keys(camMethods).join(', ')}` },
  preset: { type: 'string', default: 'paper', choices: Object.keys(presets), help: 'DecomCAM preset: paper (cosine, RGB perturbation) or official (released code)' },
  layer: { type: 'string', help: 'target layer, e.g. vision.blocks.-1.ln_1 (default), vision.blocks.5.ln_2, vision.blocks.10; on a ResNet visual.layer4 (default), visual.layer3, visual.layer4.1' },
  components: { type: 'int', min: 1, help: 'Q, the number of OSSMs kept (default 10)' },
  'top-p': { type: 'int', min: 1, help: 'P, the channels kept by gradient weight (default 500; clamped to the width)' },
  sigma: { type: 'float', min: 0, max: MAX_SIGMA, maxWhy: 'a blur that wide leaves only the image mean; its kernel would take minutes', help: 'σ of the Gaussian blur the masks perturb against (default 10)' },
  dtype: { type: 'string', default: 'float32', choices: ['float32', 'float64'], help: 'arithmetic precision (float64: the test oracle)' },
  backend: { type: 'string', default: 'auto', choices: backendNames(), help: 'compute backend: auto (the fastest that works here) or one by name' },
  out: { type: 'string', default: './decomcam-out', help: 'output folder' },
  json: { type: 'bool', help: 'print result.json on stdout' },
  help: { type: 'bool', help: 'show this help' },
  version: { type: 'bool', help: 'show the version' },
};

const log = (msg) => process.stderr.write(`${msg}\n`);

// A folder name for a text: its index and a short slug ("0-a-red-circle").
function slug(text, i) {
  const s = text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40);
  return `${i}-${s || 'text'}`;
}

// [3,S,S] floats in [0,1] → RgbImage (H·W·3 uint8).
function toRgbImage(rgb, S) {
  const data = new Uint8Array(S * S * 3);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < S * S; i++) data[i * 3 + c] = Math.max(0, Math.min(255, Math.round(rgb.data[c * S * S + i] * 255)));
  }
  return { width: S, height: S, data };
}

function greyPng(map, S) {
  const g = new Uint8Array(S * S);
  for (let i = 0; i < S * S; i++) g[i] = Math.max(0, Math.min(255, Math.round(map[i] * 255)));
  return encodePng(g, S, S);
}

// The Q masks m_q (each min-max normalised) in a grid of JET tiles, 5 a row, 2-pixel white gutters.
function componentsPng(masks, Q, S) {
  const cols = Math.min(Q, 5);
  const rows = Math.ceil(Q / cols);
  const gap = 2;
  const W = cols * S + (cols - 1) * gap;
  const H = rows * S + (rows - 1) * gap;
  const data = new Uint8Array(W * H * 3).fill(255);
  for (let q = 0; q < Q; q++) {
    const tile = applyJet(masks.subarray(q * S * S, (q + 1) * S * S), S, S);
    const x0 = (q % cols) * (S + gap);
    const y0 = Math.floor(q / cols) * (S + gap);
    for (let y = 0; y < S; y++) {
      data.set(tile.data.subarray(y * S * 3, (y + 1) * S * 3), ((y0 + y) * W + x0) * 3);
    }
  }
  return encodePng(data, H, W);
}

function f32(t) {
  return { dtype: 'F32', shape: t.shape, data: Float32Array.from(t.data) };
}

function round(x, digits = 6) {
  return Number(x.toPrecision(digits));
}

async function main(argv) {
  const opts = parseArgs(argv, SPEC);
  if (opts.help) { console.log(helpText('usage: node tools/explain.js [--image FILE] [--text T]… [options]', SPEC)); return; }
  if (opts.version) { console.log(`decomcam ${packageVersion()}`); return; }
  const t0 = performance.now();

  // every file named or implied is checked before any is read: regular files, under a size limit
  const modelFiles = checkModelFiles(opts.model, `--model ${opts.model}`);
  const outWhat = `--out ${opts.out}`;
  if (existsSync(opts.out) && !statSync(opts.out).isDirectory()) {
    throw new UsageError(`${outWhat} is an existing file, not a folder: give a folder name (it is made if missing)`);
  }
  // the image and texts: defaults from the model folder's sample.json
  let imagePath = opts.image;
  let texts = opts.text;
  if (!imagePath || texts.length === 0) {
    const samplePath = join(opts.model, 'sample.json');
    if (!existsSync(samplePath)) {
      throw new UsageError(`${!imagePath ? '--image' : '--text'} is required: ${opts.model} has no sample.json giving a default`);
    }
    const bytes = readRegularFile(samplePath, samplePath, MAX_TEXT_BYTES);
    let sample;
    try {
      sample = JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) {
      throw new UsageError(`${samplePath} is not valid JSON (${e.message}): fix it, or give --image and --text`);
    }
    const field = (k) => {
      if (typeof sample?.[k] !== 'string' || sample[k] === '') throw new UsageError(`${samplePath} has no "${k}" string: fix it, or give --${k}`);
      return sample[k];
    };
    if (!imagePath) imagePath = join(opts.model, field('image'));
    if (texts.length === 0) texts = [field('text')];
  }
  for (const t of texts) {
    if (t.trim() === '') throw new UsageError('--text is empty: give the words to explain, e.g. --text "a red circle"');
  }
  // nothing the user gave is ever overwritten: no output may land on the image or a model file
  const outNames = ['result.json', ...texts.flatMap((t, i) => PER_TEXT_FILES.map((f) => `${slug(t, i)}/${f}`))];
  checkOutputsSpareInputs(opts.out, outNames, [imagePath, ...modelFiles], outWhat);
  const imageWhat = opts.image ? `--image ${imagePath}` : `the sample image ${imagePath}`;
  const image = decodeImage(readRegularFile(imagePath, imageWhat, MAX_IMAGE_BYTES), `image "${imagePath}"`);
  const tImage = performance.now() - t0;
  log(`image ${imagePath} (${image.width}×${image.height}); ${texts.length} text${texts.length > 1 ? 's' : ''}; method ${opts.method}, preset ${opts.preset}`);

  // the model
  const backend = await chooseBackend(opts.backend, log);
  log(`loading ${opts.model} (${opts.dtype}, backend ${backend.name})`);
  const model = loadClip(opts.model, { dtype: opts.dtype, backend, vocab: opts.vocab });
  const tLoad = performance.now() - t0 - tImage;

  const t1 = performance.now();
  // each method takes its own options: the preset only where the method has presets (DecomCAM); Q, P and sigma
  // are passed as given, so a baseline given one is an error naming the method
  const ex = explain(model, image, texts, {
    method: opts.method, layer: opts.layer, ...(camMethods[opts.method].presets ? { preset: opts.preset } : {}),
    Q: opts.components, P: opts['top-p'], sigma: opts.sigma,
  });
  const tExplain = performance.now() - t1;
  for (const w of ex.warnings) log(`warning: ${w}`);

  // outputs, in memory first: nothing half-written is ever left in --out
  const S = ex.S;
  const crop = toRgbImage(ex.rgb, S);
  const files = {};
  const perText = ex.results.map((r, i) => {
    const dir = slug(r.text, i);
    const names = { overlay: `${dir}/overlay.png`, map: `${dir}/map.png`, maps: `${dir}/maps.safetensors` };
    const ov = overlay(crop, r.map.data, 0.5);
    files[names.overlay] = encodePng(ov.data, S, S);
    files[names.map] = greyPng(r.map.data, S);
    const tensors = { map: f32(r.map) };
    if (r.ossm) {
      names.components = `${dir}/components.png`;
      files[names.components] = componentsPng(r.masks.data, r.ossm.shape[0], S);
      tensors.ossm = f32(r.ossm);
      tensors.weights = f32(r.weights);
    }
    files[names.maps] = serializeSafetensors(tensors, { text: r.text, method: ex.method, layer: ex.layer });
    return {
      text: r.text,
      score: r.score,
      cosine: r.cosine,
      weights: r.weights ? Array.from(r.weights.data, (x) => round(x)) : null,
      perturbedScores: r.perturbedScores ? Array.from(r.perturbedScores.data, (x) => round(x)) : null,
      warnings: r.warnings,
      files: names,
      timingsMs: Object.fromEntries(Object.entries(r.timings).map(([k, v]) => [k, round(v, 4)])),
    };
  });
  const result = {
    decomcam: packageVersion(),
    model: resolve(opts.model),
    image: resolve(imagePath),
    method: ex.method,
    preset: ex.preset,
    layer: ex.layer,
    grid: [ex.grid.h, ex.grid.w],
    imageSize: S,
    options: { P: ex.options.P, Q: ex.options.Q, sigma: ex.options.sigma, truncate: ex.options.truncate, threshold: ex.options.threshold, score: ex.options.score, perturb: ex.options.perturb },
    dtype: opts.dtype,
    backend: backend.name,
    texts: perText,
    warnings: ex.warnings,
    timingsMs: {
      decode: round(tImage, 4),
      load: round(tLoad, 4),
      ...Object.fromEntries(Object.entries(ex.timings).map(([k, v]) => [k, round(v, 4)])),
      explain: round(tExplain, 4),
    },
  };
  const json = JSON.stringify(result, null, 2);
  files['result.json'] = `${json}\n`;
  checkOutputsSpareInputs(opts.out, Object.keys(files), [imagePath, ...modelFiles], outWhat); // again: the files are known now
  writeOutputsAtomically(opts.out, files, outWhat);

  for (const r of perText) {
    log(`"${r.text}": score ${round(r.score, 5)}, cosine ${round(r.cosine, 5)}${r.weights ? `, weights [${r.weights.map((w) => w.toFixed(3)).join(' ')}]` : ''}`);
  }
  log(`timings (ms): ${Object.entries(result.timingsMs).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
  log(`wrote ${Object.keys(files).length} files to ${resolve(opts.out)}`);
  if (opts.json) process.stdout.write(`${json}\n`);
}

runMain('explain', main);
