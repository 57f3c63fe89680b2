#!/usr/bin/env node
// tools/explain.js: the main job. Images and one or more texts in; per text a saliency map (DecomCAM or a
// baseline), its OSSMs and their weights out, as PNGs at the image's own size, a safetensors file, result.json,
// and report.html, a self-contained page that walks through every step (src/report/).
//   node tools/explain.js                                   # the shipped model and sample scene
//   node tools/explain.js --image cat.jpg --text "a cat" --text "a dog" --model ~/clip-vit-b16 --compare gradcam
//   node tools/explain.js --image photos/ --text "a dog"    # every JPEG/PNG of a folder, plus index.html
// Progress and timings go to stderr; --json prints result.json on stdout. Exit 2: usage, 1: runtime (or a file of
// a folder that could not be explained: the others are still written).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { runMain, parseArgs, helpText, packageVersion, UsageError, writeOutputsAtomically, repoRoot } from './lib/cli.js';
import {
  explainMethods, camMethods, presets, loadClip, decodeImage, encodePng, overlay, serializeSafetensors, componentsImage,
  mapToImage, overlayInImage, greyInImage, renderReport, renderGallery, stageTensors, cropBoxInImage,
} from 'decomcam';
import { chooseBackend, backendNames } from './lib/backend.js';
import { checkModelFiles, readRegularFile, checkOutputsSpareInputs, MAX_IMAGE_BYTES, MAX_TEXT_BYTES } from './lib/files.js';
import { createProgress } from './lib/progress.js';
import { isShippedModel, shippedModelWarnings } from './lib/shipped.js';

const DEFAULT_MODEL = join(repoRoot, 'weights', 'tiny-clip');
// σ in pixels of the model's input (224 for ViT-B/16): beyond ~S/2 the blur is already nearly flat; the kernel
// has 8σ+1 taps, so a bound keeps it to seconds (σ 1e6 would take hours, σ 1e9 cannot be allocated).
const MAX_SIGMA = 1000;
// The files written per text (components.png only for DecomCAM, stages.safetensors with --stages), checked
// against the inputs before any work.
const PER_TEXT_FILES = ['overlay.png', 'overlay-crop.png', 'map.png', 'maps.safetensors', 'components.png', 'stages.safetensors'];
const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);
// Stage lines (forward, backward, perturbed k/Q) are printed for models whose forward is this many
// multiply-adds or more (layers · width² · tokens; the shipped model is 4e6, a ViT-B/16 1.4e9).
const STAGE_LINES_MACS = 5e7;

const SPEC = {
  model: { type: 'string', default: DEFAULT_MODEL, help: 'CLIP model folder (HF config.json + model.safetensors, or OpenAI-named .safetensors: ViT or ResNet RN50/RN101/RN50x4/x16/x64)' },
  vocab: { type: 'string', help: 'tokenizer folder or a file in it (vocab.json + merges.txt, or bpe_simple_vocab_16e6.txt.gz) when none is beside the model' },
  image: { type: 'list', help: 'image file (JPEG or PNG) or a folder of them; repeat for several (default: the sample scene shipped with the model)' },
  text: { type: 'list', help: 'text to explain; repeat for several (all share one image forward)' },
  method: { type: 'string', default: 'decomcam', choices: Object.keys(camMethods), help: `CAM method: ${Object.keys(camMethods).join(', ')}` },
  compare: { type: 'string', help: 'other methods to show beside it in report.html, comma-separated (e.g. gradcam,scorecam); they share the forward and backward' },
  preset: { type: 'string', default: 'paper', choices: Object.keys(presets), help: 'DecomCAM preset: paper (cosine, RGB perturbation) or official (released code)' },
  layer: { type: 'string', help: 'target layer, e.g. vision.blocks.-1.ln_1 (default), vision.blocks.5.ln_2, vision.blocks.10; on a ResNet visual.layer4 (default), visual.layer3, visual.layer4.1' },
  components: { type: 'int', min: 1, help: 'Q, the number of OSSMs kept (default 10)' },
  'top-p': { type: 'int', min: 1, help: 'P, the channels kept by gradient weight (default 500; clamped to the width)' },
  sigma: { type: 'float', min: 0, max: MAX_SIGMA, maxWhy: 'a blur that wide leaves only the image mean; its kernel would take minutes', help: 'σ of the Gaussian blur the masks perturb against (default 10)' },
  dtype: { type: 'string', default: 'float32', choices: ['float32', 'float64'], help: 'arithmetic precision (float64: the test oracle)' },
  backend: { type: 'string', default: 'auto', choices: backendNames(), help: 'compute backend: auto (the fastest that works here) or one by name' },
  stages: { type: 'bool', help: 'also write stages.safetensors per text: every intermediate, for comparing another implementation' },
  out: { type: 'string', default: './decomcam-out', help: 'output folder' },
  json: { type: 'bool', help: 'print result.json on stdout (one image)' },
  help: { type: 'bool', help: 'show this help' },
  version: { type: 'bool', help: 'show the version' },
};

// A folder name for a text: its index and a short slug ("0-a-red-circle").
function slug(text, i) {
  const s = text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40);
  return `${i}-${s || 'text'}`;
}

// A sub-folder name for an image of a folder run: its file name without extension, made unique.
function imageDirName(path, taken) {
  const base = basename(path, extname(path)).replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+/, '').slice(0, 60) || 'image';
  let name = base;
  for (let n = 2; taken.has(name) || name === 'index.html'; n++) name = `${base}-${n}`;
  taken.add(name);
  return name;
}

function f32(data, shape) {
  return { dtype: 'F32', shape, data: Float32Array.from(data) };
}

function round(x, digits = 6) {
  return Number(x.toPrecision(digits));
}

// --image values → the image files, in order: a file as given, a folder's JPEG/PNG files sorted by name.
function expandImages(args) {
  const files = [];
  let folder = false;
  for (const a of args) {
    let st = null;
    try { st = statSync(a); } catch { /* the read reports it */ }
    if (st?.isDirectory()) {
      folder = true;
      const found = readdirSync(a).filter((n) => IMAGE_EXTENSIONS.has(extname(n).toLowerCase())).sort().map((n) => join(a, n));
      if (found.length === 0) throw new UsageError(`--image ${a} is a folder that holds no JPEG or PNG files (.jpg, .jpeg, .png)`);
      files.push(...found);
    } else {
      files.push(a);
    }
  }
  return { files, folder };
}

// The default image and texts from the model folder's sample.json, where not given.
function sampleDefaults(opts) {
  const samplePath = join(opts.model, 'sample.json');
  if (!existsSync(samplePath)) {
    throw new UsageError(`${opts.image.length === 0 ? '--image' : '--text'} is required: ${opts.model} has no sample.json giving a default`);
  }
  const bytes = readRegularFile(samplePath, samplePath, MAX_TEXT_BYTES);
  let sample;
  try {
    sample = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new UsageError(`${samplePath} is not valid JSON (${e.message}): fix it, or give --image and --text`);
  }
  return (k) => {
    if (typeof sample?.[k] !== 'string' || sample[k] === '') throw new UsageError(`${samplePath} has no "${k}" string: fix it, or give --${k}`);
    return sample[k];
  };
}

// The comma-separated --compare list, checked: known methods, not the main one, no repeats.
function compareMethods(value, main) {
  if (!value) return [];
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of names) {
    if (!(n in camMethods)) throw new UsageError(`option --compare: "${n}" is not one of ${Object.keys(camMethods).join(', ')}`);
    if (n === main) throw new UsageError(`option --compare: "${n}" is the --method itself; list the others to compare with it`);
  }
  return [...new Set(names)];
}

// One image explained: every output file in memory ({ relativePath: bytes }), and result.json's object.
function explainImage(ctx, imagePath, imageWhat, progress) {
  const { opts, model, backend, texts, compare, modelFiles, shipped } = ctx;
  const t0 = performance.now();
  const image = decodeImage(readRegularFile(imagePath, imageWhat, MAX_IMAGE_BYTES), `image "${imagePath}"`);
  const tImage = performance.now() - t0;
  progress.log(`image ${imagePath} (${image.width}×${image.height}); ${texts.length} text${texts.length > 1 ? 's' : ''}; method ${opts.method}` +
    `${opts.method === 'decomcam' ? `, preset ${opts.preset}` : ''}${compare.length ? `; compared with ${compare.join(', ')}` : ''}`);

  const t1 = performance.now();
  // each method takes its own options: the preset only where the method has presets (DecomCAM); Q, P and sigma
  // are passed as given, so a baseline given one is an error naming the method
  const own = (m) => (m === opts.method
    ? { ...(camMethods[m].presets ? { preset: opts.preset } : {}), Q: opts.components, P: opts['top-p'], sigma: opts.sigma }
    : {});
  const runs = [opts.method, ...compare].map((m) => ({ method: m, layer: opts.layer, trace: true, ...own(m), progress: progress.stage }));
  const [ex, ...others] = explainMethods(model, image, texts, runs);
  const tExplain = performance.now() - t1;

  // all-zero maps are said, for every method (Grad-CAM gives one when every channel weight is negative)
  const zeroWarnings = (e) => e.results.map((r) => (r.map.data.every((v) => v === 0) && !r.warnings.some((w) => w.includes('map is all zero'))
    ? [`${e.method}: the final map for "${r.text}" is all zero (nothing in the image raises the score through this layer; try another layer or method)`]
    : []));
  const zeros = zeroWarnings(ex);
  const compareZeros = others.map(zeroWarnings);
  const advice = shipped ? shippedModelWarnings(opts.model, image, texts) : [];
  const warnings = [...advice, ...ex.warnings, ...zeros.flat(), ...compareZeros.flat(2)];
  for (const w of warnings) progress.log(`warning: ${w}`);

  // outputs, in memory first: nothing half-written is ever left in --out
  const t2 = performance.now();
  const S = ex.S;
  const rgbData = new Uint8Array(S * S * 3);
  for (let c = 0; c < 3; c++) for (let i = 0; i < S * S; i++) rgbData[i * 3 + c] = Math.max(0, Math.min(255, Math.round(ex.rgb.data[c * S * S + i] * 255)));
  const crop = { width: S, height: S, data: rgbData };
  const files = {};
  const perText = ex.results.map((r, i) => {
    const dir = slug(r.text, i);
    const names = { overlay: `${dir}/overlay.png`, overlayCrop: `${dir}/overlay-crop.png`, map: `${dir}/map.png`, maps: `${dir}/maps.safetensors` };
    const fm = mapToImage(r.map.data, S, image.height, image.width); // the crop-frame map in the image's frame
    files[names.overlay] = encodePng(overlayInImage(image, fm).data, image.height, image.width);
    files[names.overlayCrop] = encodePng(overlay(crop, r.map.data, 0.5).data, S, S);
    files[names.map] = encodePng(greyInImage(fm), image.height, image.width);
    const tensors = { map: f32(r.map.data, [S, S]), mapImage: f32(fm.map, [image.height, image.width]) };
    if (r.ossm) {
      names.components = `${dir}/components.png`;
      const grid = componentsImage(r.masks.data, r.weights.data, S);
      files[names.components] = encodePng(grid.data, grid.height, grid.width);
      tensors.ossm = f32(r.ossm.data, r.ossm.shape);
      tensors.weights = f32(r.weights.data, r.weights.shape);
    }
    others.forEach((o) => { tensors[`compare.${o.method}`] = f32(o.results[i].map.data, [S, S]); });
    files[names.maps] = serializeSafetensors(tensors, { text: r.text, method: ex.method, layer: ex.layer });
    if (opts.stages) {
      names.stages = `${dir}/stages.safetensors`;
      files[names.stages] = serializeSafetensors(stageTensors(ex, i, opts.dtype),
        { text: r.text, method: ex.method, layer: ex.layer, dtype: opts.dtype, doc: 'names: README.md, "stages.safetensors"' });
    }
    return {
      text: r.text,
      score: r.score,
      cosine: r.cosine,
      weights: r.weights ? Array.from(r.weights.data, (x) => round(x)) : null,
      perturbedScores: r.perturbedScores ? Array.from(r.perturbedScores.data, (x) => round(x)) : null,
      warnings: [...r.warnings, ...zeros[i]],
      files: names,
      timingsMs: Object.fromEntries(Object.entries(r.timings).map(([k, v]) => [k, round(v, 4)])),
    };
  });
  const tOutputs = performance.now() - t2;
  const timingsMs = {
    decode: round(tImage, 4),
    ...(ctx.tLoad !== undefined ? { load: round(ctx.tLoad, 4) } : {}),
    ...Object.fromEntries(Object.entries(ex.timings).map(([k, v]) => [k, round(v, 4)])),
    explain: round(tExplain, 4),
    outputs: round(tOutputs, 4),
  };
  ctx.tLoad = undefined; // the model load belongs to the first image

  const t3 = performance.now();
  files['report.html'] = renderReport({
    imageName: imagePath, image, main: ex, compare: others,
    model: { name: resolve(opts.model), config: model.config, logitScale: model.logitScale, dtype: opts.dtype, backend: backend.name },
    timingsMs, warnings, files: perText.map((p) => p.files), version: packageVersion(),
  });
  timingsMs.report = round(performance.now() - t3, 4);

  const box = cropBoxInImage(image.height, image.width, S);
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
    warnings,
    timingsMs,
    inputSize: [image.height, image.width],
    cropBox: [box.x0, box.y0, box.x1, box.y1].map((v) => round(v)),
    report: 'report.html',
    compare: others.map((o, j) => ({
      method: o.method,
      texts: o.results.map((r, i) => ({ text: r.text, score: r.score, warnings: [...r.warnings, ...compareZeros[j][i]] })),
    })),
  };
  files['result.json'] = `${JSON.stringify(result, null, 2)}\n`;
  checkOutputsSpareInputs(ctx.outDir, Object.keys(files), [imagePath, ...modelFiles], ctx.outWhat); // the files are known now
  return { files, result, image };
}

async function main(argv) {
  const opts = parseArgs(argv, SPEC);
  if (opts.help) { console.log(helpText('usage: node tools/explain.js [--image FILE|DIR]… [--text T]… [options]', SPEC)); return; }
  if (opts.version) { console.log(`decomcam ${packageVersion()}`); return; }
  const t0 = performance.now();

  // every file named or implied is checked before any is read: regular files, under a size limit
  const modelFiles = checkModelFiles(opts.model, `--model ${opts.model}`);
  const outWhat = `--out ${opts.out}`;
  if (existsSync(opts.out) && !statSync(opts.out).isDirectory()) {
    throw new UsageError(`${outWhat} is an existing file, not a folder: give a folder name (it is made if missing)`);
  }
  const compare = compareMethods(opts.compare, opts.method);
  // the images and texts: defaults from the model folder's sample.json
  let texts = opts.text;
  let imageArgs = opts.image;
  if (imageArgs.length === 0 || texts.length === 0) {
    const field = sampleDefaults(opts);
    if (imageArgs.length === 0) imageArgs = [join(opts.model, field('image'))];
    if (texts.length === 0) texts = [field('text')];
  }
  for (const t of texts) {
    if (t.trim() === '') throw new UsageError('--text is empty: give the words to explain, e.g. --text "a red circle"');
  }
  const { files: images, folder } = expandImages(imageArgs);
  const many = folder || images.length > 1;
  if (many && opts.json) throw new UsageError('--json prints one result.json: with several images, read each sub-folder\'s result.json');
  // nothing the user gave is ever overwritten: no output may land on an image or a model file
  const taken = new Set();
  const dirs = images.map((p) => (many ? imageDirName(p, taken) : ''));
  const perImage = ['result.json', 'report.html', ...texts.flatMap((t, i) => PER_TEXT_FILES.map((f) => `${slug(t, i)}/${f}`))];
  const outNames = [...(many ? ['index.html'] : []), ...dirs.flatMap((d) => perImage.map((f) => (d ? `${d}/${f}` : f)))];
  checkOutputsSpareInputs(opts.out, outNames, [...images, ...modelFiles], outWhat);

  // the model
  const big = (cfg) => cfg.vision.layers * cfg.vision.width ** 2 * (1 + (cfg.vision.imageSize / cfg.vision.patchSize) ** 2) >= STAGE_LINES_MACS;
  const log = (msg) => process.stderr.write(`${msg}\n`);
  const backend = await chooseBackend(opts.backend, log);
  log(`loading ${opts.model} (${opts.dtype}, backend ${backend.name})`);
  const tl = performance.now();
  const model = loadClip(opts.model, { dtype: opts.dtype, backend, vocab: opts.vocab });
  const ctx = {
    opts, model, backend, texts, compare, modelFiles, outDir: opts.out, outWhat, tLoad: performance.now() - tl,
    shipped: isShippedModel(opts.model, DEFAULT_MODEL),
  };
  const progress = createProgress(images.length, { stageLines: big(model.config) });

  if (!many) {
    const imageWhat = opts.image.length ? `--image ${images[0]}` : `the sample image ${images[0]}`;
    progress.start(0, images[0]);
    const { files, result } = explainImage(ctx, images[0], imageWhat, progress);
    progress.end();
    writeOutputsAtomically(opts.out, files, outWhat);
    for (const r of result.texts) {
      log(`"${r.text}": score ${round(r.score, 5)}, cosine ${round(r.cosine, 5)}${r.weights ? `, weights [${r.weights.map((w) => w.toFixed(3)).join(' ')}]` : ''}`);
    }
    log(`timings (ms): ${Object.entries(result.timingsMs).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
    log(`wrote ${Object.keys(files).length} files to ${resolve(opts.out)} (open report.html; total ${((performance.now() - t0) / 1000).toFixed(2)} s)`);
    if (opts.json) process.stdout.write(files['result.json']);
    return;
  }

  // a folder run: each image into its own sub-folder, written whole; a bad file is said and skipped
  const ok = [];
  const failed = [];
  images.forEach((path, i) => {
    progress.start(i, path);
    try {
      const { files, result } = explainImage(ctx, path, `--image ${path}`, progress);
      writeOutputsAtomically(join(opts.out, dirs[i]), files, `${outWhat} (${dirs[i]}/)`);
      ok.push({
        image: path, dir: dirs[i], thumbnail: `${dirs[i]}/${result.texts[0].files.overlay}`,
        texts: result.texts.map((r) => ({ text: r.text, score: r.score })), warnings: result.warnings,
      });
    } catch (e) {
      if (!(e instanceof UsageError) && e?.name !== 'DecomcamError') throw e; // a bug: its stack, as runMain prints it
      failed.push({ image: path, error: e.message });
      progress.log(`explain: ${path}: ${e.message} (skipped)`);
    }
    progress.finish();
  });
  progress.end();
  writeOutputsAtomically(opts.out, { 'index.html': renderGallery(`decomcam: ${images.length} images`, ok, failed) }, outWhat);
  log(`wrote ${ok.length} of ${images.length} images to ${resolve(opts.out)} (open index.html; total ${((performance.now() - t0) / 1000).toFixed(2)} s)`);
  if (failed.length) {
    log(`explain: ${failed.length} of ${images.length} images failed: ${failed.map((f) => f.image).join(', ')}`);
    process.exitCode = 1;
  }
}

runMain('explain', main);
