// explorer/worker.js: the explorer's compute, off the page's thread (a module Web Worker). It loads a model
// with the library's browser bundle (the shipped tiny-clip by default, or files the user dropped), decodes the
// image with the library's decoder (the same pixels as Node), runs explain() one text at a time (posting progress
// between), and posts back everything the page draws and the files `tools/explain.js` would write.
// Messages in:  { type: 'load', backend, threads, fma, files|null }  { type: 'explain', id, image, texts, options }
// Messages out: { type: 'progress', stage, done, total }  { type: 'loaded', … }  { type: 'result', id, … }  { type: 'error', … }
import * as dc from '../dist/browser/decomcam.js';

const SHIPPED = new URL('../weights/tiny-clip/', import.meta.url);
const SHIPPED_FILES = ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt'];
let model = null;
let backend = null;
let modelLabel = '';
let queue = Promise.resolve();

const post = (message, transfer = []) => self.postMessage(message, transfer);
const progress = (stage, done = 0, total = 0) => post({ type: 'progress', stage, done, total });

async function fetchBytes(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

async function load({ backend: name = 'wasm', threads, fma, files }) {
  progress('starting the backend');
  if (backend && backend !== dc.tsBackend) backend.close?.();
  model = null;
  // threads share memory only in a cross-origin isolated page: one thread otherwise (the same bits, slower)
  const dflt = self.crossOriginIsolated ? Math.min(2, navigator.hardwareConcurrency || 1) : 1;
  const options = name === 'wasm' ? { threads: threads ?? dflt, fma: fma ?? 'auto' }
    : name === 'gpu' ? { gpuMode: 'webgl2' } : {};
  backend = dc.createBackend(name, options);
  const why = backend.unavailable?.();
  if (why) throw new Error(`backend ${name} is not available here: ${why}`);
  if (backend.ready) await backend.ready(); // the wasm kernel threads start (asynchronously, in a browser)
  let bytes = files;
  modelLabel = 'dropped files';
  if (!bytes) {
    progress('fetching the shipped model');
    bytes = {};
    for (const f of SHIPPED_FILES) bytes[f] = await fetchBytes(new URL(f, SHIPPED));
    modelLabel = 'weights/tiny-clip';
  }
  progress('loading the model');
  model = dc.loadClipFromFiles(bytes, { backend, label: modelLabel });
  const c = model.config;
  post({
    type: 'loaded', backend: backend.describe ? backend.describe() : backend.name, model: modelLabel,
    crossOriginIsolated: self.crossOriginIsolated, hasTokenizer: model.tokenizer !== null,
    vision: { layers: c.vision.layers, width: c.vision.width, imageSize: c.vision.imageSize, patch: c.vision.patchSize },
    methods: Object.keys(dc.camMethods), presets: Object.keys(dc.presets),
  });
}

// [3,S,S] floats in [0,1] → (S,S,3) uint8, as tools/explain.js rounds it
function toRgb(rgb, S) {
  const data = new Uint8Array(S * S * 3);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < S * S; i++) data[i * 3 + c] = Math.max(0, Math.min(255, Math.round(rgb[c * S * S + i] * 255)));
  }
  return { width: S, height: S, data };
}

const grey = (map, S) => {
  const g = new Uint8Array(S * S);
  for (let i = 0; i < S * S; i++) g[i] = Math.max(0, Math.min(255, Math.round(map[i] * 255)));
  return g;
};

// min-max to [0, 1] (a constant map becomes zeros)
function unit(a) {
  let lo = Infinity, hi = -Infinity;
  for (const v of a) { if (v < lo) lo = v; if (v > hi) hi = v; }
  const out = new Float64Array(a.length);
  if (hi > lo) for (let i = 0; i < a.length; i++) out[i] = (a[i] - lo) / (hi - lo);
  return out;
}

// The masks in a grid of JET tiles, 5 a row, 2-pixel white gutters (tools/explain.js's components.png)
function componentsPng(masks, Q, S) {
  const cols = Math.min(Q, 5), rows = Math.ceil(Q / cols), gap = 2;
  const W = cols * S + (cols - 1) * gap, H = rows * S + (rows - 1) * gap;
  const data = new Uint8Array(W * H * 3).fill(255);
  for (let q = 0; q < Q; q++) {
    const tile = dc.applyJet(masks.subarray(q * S * S, (q + 1) * S * S), S, S);
    const x0 = (q % cols) * (S + gap), y0 = Math.floor(q / cols) * (S + gap);
    for (let y = 0; y < S; y++) data.set(tile.data.subarray(y * S * 3, (y + 1) * S * 3), ((y0 + y) * W + x0) * 3);
  }
  return dc.encodePng(data, H, W);
}

function slug(text, i) {
  const s = text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40);
  return `${i}-${s || 'text'}`;
}

const f32 = (t) => ({ dtype: 'F32', shape: t.shape, data: Float32Array.from(t.data) });

async function run({ id, image, texts, options }) {
  if (!model) throw new Error('no model is loaded');
  const t0 = performance.now();
  progress('decoding the image', 0, texts.length);
  const img = dc.decodeImage(image.bytes, `image "${image.name}"`);
  const results = [];
  let ex = null;
  const total = texts.length;
  for (let i = 0; i < total; i++) {
    progress(`explaining "${texts[i]}"`, i, total);
    await new Promise((r) => setTimeout(r, 0)); // let the progress message go out first
    ex = dc.explain(model, img, [texts[i]], options);
    results.push(ex.results[0]);
  }
  progress('rendering', total, total);
  const S = ex.S;
  const rgb = ex.rgb.data;
  const crop = toRgb(rgb, S);
  // the softmax over the texts: CLIP's probabilities, exp(logit_scale)·cos
  const scale = Math.exp(model.logitScale);
  const logits = results.map((r) => scale * r.cosine);
  const top = Math.max(...logits);
  const e = logits.map((l) => Math.exp(l - top));
  const sum = e.reduce((a, b) => a + b, 0);
  // the blurred crop the masks perturb against (shown as RGB whatever the preset's perturbation space)
  const sigma = ex.options.sigma, truncate = ex.options.truncate;
  const blur = sigma !== undefined ? dc.gaussianFilter({ data: Float64Array.from(rgb), shape: [3, S, S] }, sigma, truncate ?? 4).data : null;
  const files = {};
  const perText = results.map((r, i) => {
    const dir = slug(r.text, i);
    const ov = dc.overlay(crop, r.map.data, 0.5);
    files[`${dir}/overlay.png`] = dc.encodePng(ov.data, S, S);
    files[`${dir}/map.png`] = dc.encodePng(grey(r.map.data, S), S, S);
    const tensors = { map: f32(r.map) };
    const components = [];
    if (r.ossm) {
      const Q = r.ossm.shape[0], [h, w] = [r.ossm.shape[1], r.ossm.shape[2]];
      files[`${dir}/components.png`] = componentsPng(r.masks.data, Q, S);
      tensors.ossm = f32(r.ossm);
      tensors.weights = f32(r.weights);
      for (let q = 0; q < Q; q++) {
        const m = r.masks.data.subarray(q * S * S, (q + 1) * S * S);
        const pert = new Uint8Array(S * S * 3);
        for (let ch = 0; ch < 3; ch++) {
          for (let k = 0; k < S * S; k++) {
            const v = blur ? Math.max(rgb[ch * S * S + k] * m[k], blur[ch * S * S + k] * (1 - m[k])) : rgb[ch * S * S + k] * m[k];
            pert[k * 3 + ch] = Math.max(0, Math.min(255, Math.round(v * 255)));
          }
        }
        components.push({
          ossm: dc.applyJet(unit(r.ossm.data.subarray(q * h * w, (q + 1) * h * w)), h, w), mask: dc.applyJet(m, S, S),
          perturbed: { width: S, height: S, data: pert }, weight: r.weights.data[q], score: r.perturbedScores.data[q],
        });
      }
    }
    files[`${dir}/maps.safetensors`] = dc.serializeSafetensors(tensors, { text: r.text, method: ex.method, layer: ex.layer });
    return {
      text: r.text, score: r.score, scoreKind: r.scoreKind, cosine: r.cosine, probability: e[i] / sum, warnings: r.warnings,
      map: r.map.data, ossm: r.ossm ? { data: r.ossm.data, shape: r.ossm.shape } : null,
      weights: r.weights ? r.weights.data : null, perturbedScores: r.perturbedScores ? r.perturbedScores.data : null,
      overlayCrop: ov, mapJet: dc.applyJet(r.map.data, S, S), components, timings: r.timings,
    };
  });
  const result = {
    decomcam: 'browser', model: modelLabel, image: image.name, method: ex.method, preset: ex.preset, layer: ex.layer,
    grid: [ex.grid.h, ex.grid.w], imageSize: S, options: ex.options, backend: backend.name,
    texts: perText.map((t) => ({ text: t.text, score: t.score, cosine: t.cosine, probability: t.probability,
      weights: t.weights ? Array.from(t.weights) : null, perturbedScores: t.perturbedScores ? Array.from(t.perturbedScores) : null,
      warnings: t.warnings })),
  };
  files['result.json'] = new TextEncoder().encode(JSON.stringify(result, null, 1) + '\n');
  const crop0 = dc.clipCrop(img.height, img.width, S);
  post({
    type: 'result', id, ms: performance.now() - t0, model: modelLabel, method: ex.method, preset: ex.preset, layer: ex.layer, S,
    grid: [ex.grid.h, ex.grid.w], options: ex.options, image: img, crop, cropBox: crop0, texts: perText, files,
  });
}

self.onmessage = (e) => {
  const msg = e.data;
  queue = queue.then(async () => {
    try {
      if (msg.type === 'load') await load(msg);
      else if (msg.type === 'explain') await run(msg);
    } catch (err) {
      post({ type: 'error', id: msg.id, during: msg.type, message: err?.message ?? String(err), code: err?.code ?? null });
    }
  });
};
post({ type: 'hello', crossOriginIsolated: self.crossOriginIsolated });
