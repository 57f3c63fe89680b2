// explorer/app.js: the explorer page. It keeps the inputs (model files, image, texts, method and its options),
// sends them to worker.js, which computes with the library, and draws what comes back; it never computes a map
// itself, so the page stays responsive. window.explorer exposes the state and the last result (the browser tests
// read them). Every change of an input re-runs the explanation (debounced); a change of model or backend reloads.
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const SAMPLE = new URL('../weights/tiny-clip/sample.png', location.href);
const DEFAULT_TEXTS = ['a blue triangle', 'a purple square'];

const state = {
  loaded: null,        // the worker's 'loaded' message
  modelFiles: null,    // null: the shipped model; else { name: Uint8Array }
  image: null,         // { name, bytes }
  result: null,        // the last 'result' message
  runs: 0,             // results drawn so far
  errors: [],
  busy: false,
};
window.explorer = state;

const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
let nextId = 1;
let wanted = 0; // the id of the newest request: older results are dropped
const requests = new Map(); // id → { resolve, reject } of explorer.request calls (not drawn)

// explorer.request(texts, options): the worker's answer for the current image and model, without drawing it
// (for scripts and the browser tests).
state.request = (ts, opts) => new Promise((resolve, reject) => {
  const id = nextId++;
  requests.set(id, { resolve, reject });
  const bytes = state.image.bytes.slice();
  worker.postMessage({ type: 'explain', id, image: { name: state.image.name, bytes }, texts: ts, options: opts }, [bytes.buffer]);
});

worker.onmessage = (e) => {
  const m = e.data;
  if (m.type === 'hello') return;
  if (m.type === 'progress') {
    $('stage').textContent = m.stage;
    $('progress').max = Math.max(1, m.total);
    $('progress').value = m.done;
  } else if (m.type === 'loaded') {
    state.loaded = m;
    $('status').textContent = `backend: ${m.backend} · crossOriginIsolated: ${m.crossOriginIsolated} · model: ${m.model}` +
      ` (ViT, ${m.vision.layers} blocks, width ${m.vision.width}, ${m.vision.imageSize}px)`;
    fillControls(m);
    schedule(0);
  } else if (m.type === 'result') {
    if (requests.has(m.id)) { requests.get(m.id).resolve(m); requests.delete(m.id); return; }
    if (m.id !== wanted) return;
    state.busy = false;
    state.result = m;
    $('error').textContent = '';
    $('stage').textContent = `done in ${m.ms.toFixed(0)} ms`;
    draw(m);
    state.runs++;
  } else if (m.type === 'error') {
    if (requests.has(m.id)) { requests.get(m.id).reject(new Error(m.message)); requests.delete(m.id); return; }
    state.busy = false;
    state.errors.push(m.message);
    $('error').textContent = `${m.during === 'load' ? 'Loading the model failed' : 'Explaining failed'}: ${m.message}`;
    $('stage').textContent = '';
  }
};
worker.onerror = (e) => { $('error').textContent = `the worker failed: ${e.message}`; };

function load() {
  state.loaded = null;
  $('status').textContent = 'loading the model…';
  const threads = params.has('threads') ? Number(params.get('threads')) : undefined;
  const fma = params.has('fma') ? params.get('fma') === '1' : undefined;
  const files = state.modelFiles;
  worker.postMessage({ type: 'load', backend: $('backend').value, threads, fma, files });
}

function fillControls(m) {
  const keep = (sel, values, dflt) => {
    const old = sel.value;
    sel.innerHTML = values.map((v) => `<option>${v}</option>`).join('');
    sel.value = values.includes(old) ? old : dflt;
  };
  keep($('method'), m.methods, 'decomcam');
  keep($('preset'), m.presets, 'paper');
  const layers = [];
  for (let n = 0; n < m.vision.layers; n++) layers.push(`vision.blocks.${n}.ln_1`, `vision.blocks.${n}.ln_2`, `vision.blocks.${n}`);
  keep($('layer'), layers, `vision.blocks.${m.vision.layers - 1}.ln_1`);
  $('P').max = m.vision.width;
  if (Number($('P').value) > m.vision.width) $('P').value = m.vision.width;
  methodChanged();
}

function methodChanged() {
  const dc = $('method').value === 'decomcam';
  for (const id of ['preset', 'Q', 'P']) $(id).disabled = !dc;
}

function options() {
  const method = $('method').value;
  const o = { method, layer: $('layer').value };
  if (method === 'decomcam') Object.assign(o, { preset: $('preset').value, Q: Number($('Q').value), P: Number($('P').value) });
  return o;
}

function texts() {
  return $('texts').value.split('\n').map((t) => t.trim()).filter((t) => t !== '');
}

let timer = null;
function schedule(ms = 300) {
  clearTimeout(timer);
  timer = setTimeout(explain, ms);
}

function explain() {
  if (!state.loaded || !state.image) return;
  if (params.get('auto') === '0' && state.runs === 0 && !state.clicked) return; // ?auto=0: wait for the Explain button
  const ts = texts();
  if (ts.length === 0) { $('error').textContent = 'Type at least one text (one a line).'; return; }
  wanted = nextId++;
  state.busy = true;
  $('stage').textContent = 'queued';
  const bytes = state.image.bytes.slice(); // the worker gets its own copy
  worker.postMessage({ type: 'explain', id: wanted, image: { name: state.image.name, bytes }, texts: ts, options: options() }, [bytes.buffer]);
}

// ---- drawing

function canvasOf(img, scale = 1, title = '') {
  const c = document.createElement('canvas');
  c.width = img.width; c.height = img.height;
  c.style.width = `${img.width * scale}px`; c.style.height = `${img.height * scale}px`;
  if (title) c.title = title;
  const ctx = c.getContext('2d');
  const rgba = new ImageData(img.width, img.height);
  for (let i = 0; i < img.width * img.height; i++) {
    rgba.data[4 * i] = img.data[3 * i]; rgba.data[4 * i + 1] = img.data[3 * i + 1];
    rgba.data[4 * i + 2] = img.data[3 * i + 2]; rgba.data[4 * i + 3] = 255;
  }
  ctx.putImageData(rgba, 0, 0);
  return c;
}

function figure(canvas, caption) {
  const f = document.createElement('figure');
  f.append(canvas);
  const cap = document.createElement('figcaption');
  cap.textContent = caption;
  f.append(cap);
  return f;
}

// The map over the whole image: the crop's map (jet) blended 50/50 into the crop box, the rest dimmed.
function wholeOverlay(m, t, size) {
  const { image, cropBox: b, S } = m;
  const scale = size / Math.max(image.width, image.height);
  const c = document.createElement('canvas');
  c.width = Math.round(image.width * scale); c.height = Math.round(image.height * scale);
  const ctx = c.getContext('2d');
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(canvasOf(image), 0, 0, c.width, c.height);
  ctx.fillStyle = 'rgba(0,0,0,0.45)';
  ctx.fillRect(0, 0, c.width, c.height);
  // crop box in the original's pixels: resize (resizedH, resizedW), then the S×S crop at (top, left)
  const sx = image.width / b.resizedW, sy = image.height / b.resizedH;
  const x = b.left * sx * scale, y = b.top * sy * scale, w = S * sx * scale, h = S * sy * scale;
  ctx.drawImage(canvasOf(t.overlayCrop), x, y, w, h);
  ctx.strokeStyle = '#fff';
  ctx.strokeRect(x + 0.5, y + 0.5, w - 1, h - 1);
  return c;
}

function download(name, bytes) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([bytes]));
  a.download = name.replace(/\//g, '_');
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

function draw(m) {
  const scale = Math.max(1, Math.floor(192 / m.S));
  const opt = Object.entries(m.options).filter(([, v]) => typeof v !== 'object').map(([k, v]) => `${k} ${v}`).join(', ');
  $('summary').innerHTML = '';
  const sum = document.createElement('div');
  sum.className = 'card';
  sum.innerHTML = `<h3>${m.method}${m.preset ? ` (${m.preset})` : ''} at ${m.layer}</h3>` +
    `<div class="muted">grid ${m.grid[0]}×${m.grid[1]}, crop ${m.S}px; ${opt}; ${m.ms.toFixed(0)} ms</div>`;
  const table = document.createElement('table');
  table.className = 'scores';
  table.innerHTML = '<tr><td><b>text</b></td><td><b>score</b></td><td><b>cosine</b></td><td><b>softmax</b></td></tr>' +
    m.texts.map((t) => `<tr><td>${escapeHtml(t.text)}</td><td>${t.score.toFixed(4)}</td><td>${t.cosine.toFixed(4)}</td>` +
      `<td>${(100 * t.probability).toFixed(1)}%</td></tr>`).join('');
  sum.append(table);
  const dl = document.createElement('div');
  dl.className = 'downloads';
  for (const name of Object.keys(m.files)) {
    const b = document.createElement('button');
    b.textContent = `⬇ ${name}`;
    b.onclick = () => download(name, m.files[name]);
    dl.append(b);
  }
  sum.append(dl);
  $('summary').append(sum);

  const out = $('results');
  out.innerHTML = '';
  for (const t of m.texts) {
    const card = document.createElement('div');
    card.className = 'card text-result';
    card.innerHTML = `<h3>“${escapeHtml(t.text)}”</h3><div class="muted">${t.scoreKind} score ${t.score.toFixed(4)}, ` +
      `cosine ${t.cosine.toFixed(4)}, softmax over the texts ${(100 * t.probability).toFixed(1)}%</div>` +
      (t.warnings.length ? `<div class="err">${t.warnings.map(escapeHtml).join('<br>')}</div>` : '');
    const maps = document.createElement('div');
    maps.className = 'maps';
    maps.append(figure(wholeOverlay(m, t, 256), 'overlay on the whole image'));
    maps.append(figure(canvasOf(t.overlayCrop, scale), 'overlay on the crop'));
    maps.append(figure(canvasOf(t.mapJet, scale), 'final map'));
    card.append(maps);
    if (t.components.length) {
      const maxW = Math.max(1e-12, ...t.components.map((c) => Math.abs(c.weight)));
      const comps = document.createElement('div');
      comps.className = 'comps';
      t.components.forEach((c, q) => {
        const d = document.createElement('div');
        d.className = 'comp';
        const imgs = document.createElement('div');
        imgs.className = 'imgs';
        const s = Math.max(1, Math.floor(72 / m.S));
        imgs.append(figure(canvasOf(c.ossm, Math.max(1, Math.floor(72 / c.ossm.width))), 'OSSM'),
          figure(canvasOf(c.mask, s), 'mask'), figure(canvasOf(c.perturbed, s), 'perturbed'));
        d.append(imgs);
        const info = document.createElement('div');
        info.innerHTML = `#${q + 1} weight <b>${c.weight.toFixed(4)}</b>, s<sub>q</sub> ${c.score.toFixed(4)}` +
          `<div class="bar${c.weight < 0 ? ' neg' : ''}" style="width:${(100 * Math.abs(c.weight)) / maxW}%"></div>`;
        d.append(info);
        comps.append(d);
      });
      card.append(comps);
    }
    out.append(card);
  }
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
}

// ---- inputs

function setImage(name, bytes) {
  state.image = { name, bytes };
  const url = URL.createObjectURL(new Blob([bytes]));
  $('thumb').src = url;
  schedule(0);
}

async function imageFromFiles(files) {
  const f = files[0];
  if (!f) return;
  setImage(f.name, new Uint8Array(await f.arrayBuffer()));
}

async function modelFromFiles(files) {
  if (!files.length) return;
  const map = {};
  for (const f of files) map[f.name] = new Uint8Array(await f.arrayBuffer());
  state.modelFiles = map;
  $('modelName').textContent = `dropped: ${Object.keys(map).join(', ')}`;
  load();
}

// The files of a drop, folders read through (a dropped model folder gives its files; sub-folders too).
async function droppedFiles(dt) {
  const entries = [...(dt.items ?? [])].map((it) => it.webkitGetAsEntry?.()).filter(Boolean);
  if (!entries.some((e) => e.isDirectory)) return [...dt.files];
  const out = [];
  const walk = async (entry) => {
    if (entry.isFile) { out.push(await new Promise((ok, bad) => entry.file(ok, bad))); return; }
    const reader = entry.createReader();
    for (;;) {
      const batch = await new Promise((ok, bad) => reader.readEntries(ok, bad));
      if (batch.length === 0) break;
      for (const e of batch) await walk(e);
    }
  };
  for (const e of entries) await walk(e);
  return out;
}

function dropZone(el, onFiles) {
  el.addEventListener('dragover', (e) => { e.preventDefault(); el.classList.add('over'); });
  el.addEventListener('dragleave', () => el.classList.remove('over'));
  el.addEventListener('drop', (e) => {
    e.preventDefault();
    el.classList.remove('over');
    droppedFiles(e.dataTransfer).then(onFiles, (err) => { $('error').textContent = `cannot read the dropped files: ${err.message}`; });
  });
}

dropZone($('imageDrop'), imageFromFiles);
dropZone($('modelDrop'), modelFromFiles);
$('imageFile').addEventListener('change', (e) => void imageFromFiles(e.target.files));
$('modelFiles').addEventListener('change', (e) => void modelFromFiles(e.target.files));
$('texts').addEventListener('input', () => schedule());
for (const id of ['method', 'preset', 'layer', 'Q', 'P']) $(id).addEventListener('change', () => { methodChanged(); schedule(0); });
$('backend').addEventListener('change', load);
$('run').addEventListener('click', () => { state.clicked = true; schedule(0); });

if (params.has('backend')) $('backend').value = params.get('backend');
if (params.has('texts')) $('texts').value = params.get('texts').split('|').join('\n');
else $('texts').value = DEFAULT_TEXTS.join('\n');
load();
fetch(SAMPLE).then((r) => r.arrayBuffer()).then((b) => { if (!state.image) setImage('sample.png', new Uint8Array(b)); })
  .catch((e) => { $('error').textContent = `cannot fetch the sample image: ${e.message}`; });
