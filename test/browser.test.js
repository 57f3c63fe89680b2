// test/browser.test.js: decomcam in a real browser — headless Chromium (Debian's /usr/bin/chromium, or
// $DECOMCAM_CHROMIUM) driven by puppeteer-core, serving the explorer with tools/explorer.js (COOP/COEP). The page
// loads with no console error and is cross-origin isolated; the sample scene's map, OSSMs and weights computed in
// the page equal Node's (wasm, 2 Web Workers: the same bits; gpu.js WebGL2: within CAM_TOL.f32); a dropped image
// and a second text update the view; a screenshot is saved; served without COOP/COEP the page runs one thread, same
// bits. Skips, saying why, where there is no Chromium.
import test from 'tape';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadClip } from '../dist/clip/load.js';
import { explain } from '../dist/cam/explain.js';
import { encodePng, loadImage } from '../dist/image/decode.js';
import { createWasmBackend, enableRelaxedSimd } from '../dist/kernels/wasm/backend.js';
import { serveExplorer } from '../tools/explorer.js';
import { CAM_TOL } from './tolerances.js';
import { assertClose, repoRoot } from './helpers/compare.js';

const CHROMIUM = process.env.DECOMCAM_CHROMIUM ?? '/usr/bin/chromium';
const MODEL = join(repoRoot, 'weights', 'tiny-clip');
const SHOTS = process.env.DECOMCAM_SCREENSHOT_DIR ?? join(tmpdir(), 'decomcam-browser');
const TEXT = 'a blue triangle'; // sample.json's text
const OPTIONS = { method: 'decomcam', preset: 'paper' };
const skip = existsSync(CHROMIUM) ? null : `no Chromium at ${CHROMIUM} (apt-get install chromium, or set DECOMCAM_CHROMIUM)`;

let puppeteer = null;
if (!skip) puppeteer = (await import('puppeteer-core')).default;

// The bundle the page loads, built from dist/ (tsc output) as `npm run build` does.
function buildBundle(t) {
  const r = spawnSync(process.execPath, [join(repoRoot, 'tools', 'build_browser.js')], { encoding: 'utf8' });
  t.equal(r.status, 0, `tools/build_browser.js builds dist/browser/ ${r.status ? r.stderr.slice(-500) : ''}`);
}

// One page of the explorer; `errors` collects console errors and uncaught exceptions.
async function openExplorer(browser, url, query = '', until = 'window.explorer.runs > 0') {
  const page = await browser.newPage();
  await page.setViewport({ width: 1300, height: 1000 });
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`page: ${e.message}`));
  await page.goto(`${url}explorer/${query}`);
  await page.waitForFunction(`window.explorer && (${until} || window.explorer.errors.length > 0)`, { timeout: 60000 });
  return { page, errors };
}

// What the page's worker computes for the sample scene, as plain arrays.
function pageExplain(page, texts, options) {
  return page.evaluate(async (texts, options) => {
    const r = await window.explorer.request(texts, options);
    return r.texts.map((t) => ({ text: t.text, map: Array.from(t.map), ossm: Array.from(t.ossm.data), weights: Array.from(t.weights),
      perturbedScores: Array.from(t.perturbedScores), score: t.score }));
  }, texts, options);
}

function nodeExplain(backend, options = OPTIONS) {
  const model = loadClip(MODEL, { backend });
  return explain(model, loadImage(join(MODEL, 'sample.png')), [TEXT], options).results[0];
}

// bit-for-bit: the first differing index, or -1
function firstDifference(a, b) {
  if (a.length !== b.length) return 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

test('browser: the explorer in headless Chromium', { skip: skip ?? false }, async (t) => {
  if (skip) return;
  buildBundle(t);
  const { server, url } = await serveExplorer({ port: 0 });
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--enable-unsafe-swiftshader', '--disable-dev-shm-usage'],
  });
  try {
    // 1. loads, isolated, no console error; the wasm backend on 2 Web Workers with the fused build (as Node's below)
    const fmaNode = enableRelaxedSimd();
    const { page, errors } = await openExplorer(browser, url, `?threads=2&fma=${fmaNode ? 1 : 0}`);
    const loaded = await page.evaluate(() => ({ ...window.explorer.loaded, isolated: self.crossOriginIsolated, runs: window.explorer.runs,
      errors: window.explorer.errors }));
    t.deepEqual(loaded.errors, [], 'the page reports no error');
    t.equal(loaded.isolated, true, 'the page is cross-origin isolated (COOP/COEP from tools/explorer.js)');
    t.equal(loaded.crossOriginIsolated, true, 'so is its worker');
    t.match(loaded.backend, /^wasm \(WebAssembly SIMD.*2 threads\)$/, `backend in the page: ${loaded.backend}`);
    t.ok(loaded.runs >= 1, 'the sample scene was explained and drawn on load');
    t.ok(await page.$$eval('.text-result', (els) => els.length) === 2, 'the view shows the two default texts');

    // 2. the sample scene in the page (wasm, 2 workers) vs Node (wasm, 2 worker_threads, the same build): same bits
    const be = createWasmBackend({ threads: 2, fma: fmaNode });
    const ref = nodeExplain(be);
    const [ours] = await pageExplain(page, [TEXT], OPTIONS);
    for (const [name, a, b] of [['map', ours.map, ref.map.data], ['ossm', ours.ossm, ref.ossm.data], ['weights', ours.weights, ref.weights.data],
      ['perturbed scores', ours.perturbedScores, ref.perturbedScores.data]]) {
      const at = firstDifference(a, Array.from(b));
      t.equal(at, -1, `wasm in the page = wasm in Node, bit for bit: ${name} (${a.length} values${at >= 0 ? `; first difference at ${at}: ${a[at]} vs ${b[at]}` : ''})`);
    }
    t.equal(ours.score, ref.score, 'and the score');
    // Q = 2 for gpu.js below: WebGL2 on SwiftShader takes ~4 s an image forward here, so Q = 10 would take a minute
    const GPU_OPTIONS = { ...OPTIONS, Q: 2 };
    const refQ2 = nodeExplain(be, GPU_OPTIONS);
    be.close();

    // 3. a dropped image and a second text update the view
    const before = await page.evaluate(() => window.explorer.runs);
    const W = 48, H = 40, px = new Uint8Array(W * H * 3).fill(40);
    for (let y = 5; y < 20; y++) for (let x = 5; x < 25; x++) px.set([220, 30, 30], (y * W + x) * 3);
    const png = Buffer.from(encodePng(px, H, W)).toString('base64');
    await page.evaluate((b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], 'red-block.png', { type: 'image/png' }));
      document.getElementById('imageDrop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, png);
    await page.waitForFunction((n) => window.explorer.runs > n && window.explorer.result.image.width === 48, { timeout: 30000 }, before);
    t.pass('a PNG dropped on the image panel is explained (48×40 in the result)');
    const mid = await page.evaluate(() => window.explorer.runs);
    await page.evaluate(() => {
      const ta = document.getElementById('texts');
      ta.value = 'a red square\na blue circle\na green triangle';
      ta.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await page.waitForFunction((n) => window.explorer.runs > n && window.explorer.result.texts.length === 3, { timeout: 30000 }, mid);
    const view = await page.evaluate(() => ({
      cards: [...document.querySelectorAll('.text-result h3')].map((h) => h.textContent),
      probs: window.explorer.result.texts.map((x) => x.probability),
      downloads: [...document.querySelectorAll('.downloads button')].length,
    }));
    t.deepEqual(view.cards, ['“a red square”', '“a blue circle”', '“a green triangle”'], 'a typed text adds its card');
    t.ok(Math.abs(view.probs.reduce((a, b) => a + b, 0) - 1) < 1e-12, `the softmax over the texts sums to 1 (${view.probs.map((p) => p.toFixed(3)).join(', ')})`);
    t.equal(view.downloads, 3 * 4 + 1, 'download buttons: overlay, map, maps.safetensors, components per text, and result.json');
    // switching the method redraws: Grad-CAM has no OSSMs; the layer select offers every block's three points
    const mid2 = await page.evaluate(() => window.explorer.runs);
    await page.select('#method', 'gradcam');
    await page.waitForFunction((n) => window.explorer.runs > n && window.explorer.result.method === 'gradcam', { timeout: 30000 }, mid2);
    const gc = await page.evaluate(() => ({ comps: document.querySelectorAll('.comp').length, layers: document.querySelectorAll('#layer option').length,
      qDisabled: document.getElementById('Q').disabled }));
    t.deepEqual(gc, { comps: 0, layers: 12, qDisabled: true }, 'method gradcam: no OSSM panels, Q disabled; 4 blocks × 3 layers offered');
    await page.select('#method', 'decomcam');
    // a model dropped as files (the shipped model's, fetched here) replaces the shipped one
    const files = ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt']
      .map((f) => [f, readFileSync(join(MODEL, f)).toString('base64')]);
    await page.evaluate((files) => {
      const dt = new DataTransfer();
      for (const [name, b64] of files) dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], name));
      document.getElementById('modelDrop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, files);
    await page.waitForFunction(() => window.explorer.result?.model === 'dropped files' && window.explorer.result.method === 'decomcam',
      { timeout: 30000 });
    t.pass('dropped model files load and the view is explained again');
    mkdirSync(SHOTS, { recursive: true });
    const shot = join(SHOTS, 'explorer.png');
    writeFileSync(shot, await page.screenshot({ fullPage: true }));
    t.pass(`screenshot saved: ${shot}`);
    t.deepEqual(errors, [], 'no console error or uncaught exception on the page');
    await page.close();

    // 4. served without COOP/COEP: not isolated, so one thread — the same bits
    const plain = await serveExplorer({ port: 0, isolate: false });
    try {
      const one = await openExplorer(browser, plain.url, `?fma=${fmaNode ? 1 : 0}&auto=0`, 'window.explorer.loaded && window.explorer.image');
      const info = await one.page.evaluate(() => ({ isolated: self.crossOriginIsolated, backend: window.explorer.loaded?.backend,
        errors: window.explorer.errors }));
      t.deepEqual([info.isolated, info.errors], [false, []], 'without the headers the page is not isolated, and loads');
      t.match(info.backend ?? '', /^wasm \(.*1 thread\)$/, `so the wasm backend runs on one thread: ${info.backend}`);
      const [single] = await pageExplain(one.page, [TEXT], OPTIONS);
      t.equal(firstDifference(single.map, Array.from(ref.map.data)), -1, 'and its map equals Node\'s (2 threads) bit for bit');
      t.equal(firstDifference(single.weights, Array.from(ref.weights.data)), -1, 'and its weights');
      await one.page.close();
    } finally {
      plain.server.close();
    }

    // 5. gpu.js on WebGL2 (SwiftShader here) in the page vs Node's wasm: within the float32 tolerances
    const gpu = await openExplorer(browser, url, '?backend=gpu&auto=0', 'window.explorer.loaded && window.explorer.image');
    const gl = await gpu.page.evaluate(() => ({ backend: window.explorer.loaded?.backend, errors: window.explorer.errors }));
    if (gl.errors.length) {
      t.skip(`gpu.js WebGL2 cannot run in this Chromium: ${gl.errors[0]}`);
    } else {
      t.match(gl.backend, /^gpu \(gpu\.js webgl2\)$/, `backend in the page: ${gl.backend}`);
      const [g] = await pageExplain(gpu.page, [TEXT], GPU_OPTIONS);
      assertClose(t, 'gpu.js webgl2 map (Q 2)', g.map, refQ2.map.data, CAM_TOL.f32.map);
      assertClose(t, 'gpu.js webgl2 ossm', g.ossm, refQ2.ossm.data, CAM_TOL.f32.derived);
      assertClose(t, 'gpu.js webgl2 weights', g.weights, refQ2.weights.data, CAM_TOL.f32.derived);
      assertClose(t, 'gpu.js webgl2 perturbed scores', g.perturbedScores, refQ2.perturbedScores.data, CAM_TOL.f32.derived);
      t.deepEqual(gpu.errors, [], 'no console error on the gpu page');
    }
    await gpu.page.close();
  } finally {
    await browser.close();
    server.close();
  }
});
