// test/report.test.js: issue 19 — maps carried from CLIP's crop to the image's own frame (checked against the
// second home of that geometry, eval/frame.ts, and against facts bilinear sampling must keep: a constant stays
// constant, a ramp stays a ramp), components.png sorted by weight with its labels, the progress stages, and the
// command line: pictures at the input's size with shaded margins, report.html self-contained, --compare, folders
// with a bad file, the all-zero and shipped-model warnings.
import test from 'tape';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  mapToImage, cropBoxInImage, componentsImage, weightOrder, overlay, encodePng, loadImage, loadClip, explain, explainMethods,
  readSafetensors, tsBackend, shippedModelDir,
} from '../dist/index.js';
import { clipCenterCropFrame } from '../dist/eval/frame.js';
import { centerCropResize } from '../dist/image/preprocess.js';
import { drawText, CELL_W } from '../dist/report/font.js';
import { decodePng } from '../dist/image/png.js';
import { repoRoot, fixturesDir } from './helpers/compare.js';

const tool = join(repoRoot, 'tools', 'explain.js');
const model = join(fixturesDir, 'tiny_clip_hf'); // S = 32, a 4×4 grid
const dir = mkdtempSync(join(tmpdir(), 'decomcam-report-'));

function run(args) {
  const r = spawnSync(process.execPath, [tool, '--backend', 'ts', ...args], { encoding: 'utf8', timeout: 300000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

// A W×H picture: a red block top-left and a blue block bottom-right on grey.
function picture(W, H) {
  const px = new Uint8Array(W * H * 3).fill(60);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const c = x < W / 2 && y < H / 2 ? [220, 30, 30] : x >= W / 2 && y >= H / 2 ? [30, 30, 220] : null;
      if (c) px.set(c, (y * W + x) * 3);
    }
  }
  return encodePng(px, H, W);
}

test('mapToImage: the crop box and the samples agree with eval/frame.ts, for every kind of image', (t) => {
  const S = 64;
  // landscape, portrait, tiny (< S, upscaled), odd margins, square, a 4000 px photo
  for (const [H, W] of [[280, 425], [425, 280], [20, 30], [65, 100], [64, 64], [3000, 4000]]) {
    const f = clipCenterCropFrame(H, W, S, S, S);
    const box = cropBoxInImage(H, W, S);
    const near = (a, b) => Math.abs(a - b) < 1e-9 * Math.max(1, Math.abs(b));
    t.ok(near(box.x0, f.offsetX) && near(box.y0, f.offsetY) && near(box.x1, f.offsetX + f.scaleX * S) && near(box.y1, f.offsetY + f.scaleY * S),
      `${W}×${H}: crop box [${box.x0.toFixed(2)}, ${box.y0.toFixed(2)}, ${box.x1.toFixed(2)}, ${box.y1.toFixed(2)}] = eval/frame.ts's`);
    // a ramp map[i, j] = j + 1000·i: bilinear sampling reproduces it exactly at every inside pixel (clamped at the
    // border), and pixels outside the crop are outside and 0
    const ramp = new Float64Array(S * S).map((_, k) => (k % S) + 1000 * Math.floor(k / S));
    const fm = mapToImage(ramp, S, H, W);
    let bad = 0, inside = 0;
    for (let Y = 0; Y < H; Y += H > 1000 ? 7 : 1) {
      for (let X = 0; X < W; X += W > 1000 ? 7 : 1) {
        const x = X + 0.5, y = Y + 0.5;
        // the pixel centre in map coordinates: (x − offset)/scale, in pixel-centre units
        const u = Math.min(Math.max((x - f.offsetX) / f.scaleX - 0.5, 0), S - 1);
        const v = Math.min(Math.max((y - f.offsetY) / f.scaleY - 0.5, 0), S - 1);
        const isIn = x >= f.offsetX && x < f.offsetX + f.scaleX * S && y >= f.offsetY && y < f.offsetY + f.scaleY * S;
        const p = Y * W + X;
        const want = isIn ? u + 1000 * v : 0;
        if (fm.inside[p] !== (isIn ? 1 : 0) || Math.abs(fm.map[p] - want) > 1e-6) bad++;
        inside += fm.inside[p];
      }
    }
    t.equal(bad, 0, `${W}×${H}: ${inside} sampled pixels inside, every one inside/outside and valued as the ramp says`);
  }
  // a constant map stays that constant inside; the square image at S is the map itself
  const c = mapToImage(new Float64Array(64 * 64).fill(0.25), 64, 280, 425);
  t.ok(c.map.every((v, p) => (c.inside[p] ? v === 0.25 : v === 0)), 'a constant map: 0.25 inside, 0 outside');
  const m = new Float64Array(64 * 64).map((_, k) => (k * 37 % 101) / 100);
  t.deepEqual(Array.from(mapToImage(m, 64, 64, 64).map), Array.from(m), 'an S×S image: the map itself, bit for bit');
  t.end();
});

test('components.png: tiles sorted by weight, each labelled with its index and weight', (t) => {
  const S = 64, Q = 4;
  const masks = new Float64Array(Q * S * S);
  for (let q = 0; q < Q; q++) masks.fill(q / (Q - 1), q * S * S, (q + 1) * S * S); // tile q is one flat JET colour
  const weights = Float64Array.of(0.2, 1, 0, 0.5);
  t.deepEqual(weightOrder(weights), [1, 3, 0, 2], 'order: largest weight first');
  const img = componentsImage(masks, weights, S);
  const strip = 8 + 3;
  const pixel = (x, y) => Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));
  const jet = (v) => { const one = componentsImage(new Float64Array(S * S).fill(v), Float64Array.of(1), S); return Array.from(one.data.subarray((strip + 10) * one.width * 3, (strip + 10) * one.width * 3 + 3)); };
  [1, 3, 0].forEach((q, k) => t.deepEqual(pixel(k * (S + 2) + 10, strip + 10), jet(q / (Q - 1)), `tile ${k} shows component ${q}`));
  const zeroTile = pixel(3 * (S + 2) + 10, strip + 10);
  t.ok(zeroTile[0] > 120 && zeroTile[1] > 120 && zeroTile[2] > 120, `the weight-0 component is faded (${zeroTile})`);
  // the label: "#1 w=1.000" drawn in black in the first strip, as drawText draws it
  const label = { width: 80, height: 8, data: new Uint8Array(80 * 8 * 3).fill(255) };
  drawText(label, '#1 w=1.000', 0, 0, [0, 0, 0]);
  let same = true;
  for (let y = 0; y < 7; y++) for (let x = 0; x < 10 * CELL_W; x++) same &&= pixel(1 + x, 2 + y)[0] === label.data[(y * 80 + x) * 3];
  t.ok(same, 'the first tile is labelled "#1 w=1.000"');
  t.end();
});

test('explain: the progress option reports every stage, batches counted, and changes nothing', (t) => {
  const m = loadClip(model, { backend: tsBackend });
  const img = loadImage(join(fixturesDir, 'image.rgb8.png'));
  const seen = [];
  const a = explain(m, img, ['a red square'], { Q: 3, batchSize: 2, progress: (s, k, n) => seen.push(`${s} ${k}/${n}`) });
  const b = explain(m, img, ['a red square'], { Q: 3, batchSize: 2 });
  for (const s of ['encodeTexts 0/1', 'forward 0/1', 'backward 0/1', 'decompose 0/1', 'masks 0/1', 'perturbed 0/1', 'perturbed 2/3', 'perturbed 3/3', 'integrate 0/1']) {
    t.ok(seen.includes(s), `stage "${s}" reported`);
  }
  t.ok(a.results[0].map.data.every((v, i) => v === b.results[0].map.data[i]), 'the same map with and without progress');
  t.throws(() => explain(m, img, ['x'], { progress: 3 }), /option progress: expected a function/, 'a progress that is not a function');
  t.end();
});

test('explain.js: overlay and map at the image\'s size with shaded margins, the crop view, mapImage, report.html, --compare', (t) => {
  const image = join(dir, 'wide.png');
  writeFileSync(image, picture(90, 50)); // S = 32: resized to 57×32, columns 12..44 of it are seen
  const out = join(dir, 'wide-out');
  const r = run(['--model', model, '--image', image, '--text', 'a red square', '--components', '3', '--compare', 'gradcam,layercam', '--out', out, '--json']);
  t.equal(r.code, 0, `exit 0 (${r.err.trim().split('\n').pop()})`);
  const result = JSON.parse(r.out);
  const files = result.texts[0].files;
  const ov = decodePng(readFileSync(join(out, files.overlay)));
  const mp = decodePng(readFileSync(join(out, files.map)));
  t.deepEqual([ov.width, ov.height, mp.width, mp.height], [90, 50, 90, 50], 'overlay.png and map.png are 90×50, the input\'s size');
  t.deepEqual(result.inputSize, [50, 90], 'result.json: inputSize [H, W]');
  // the library's answer for the same call
  const m = loadClip(model, { backend: tsBackend });
  const img = loadImage(image);
  const [ex, g, l] = explainMethods(m, img, ['a red square'], [{ Q: 3 }, { method: 'gradcam' }, { method: 'layercam' }]);
  const S = ex.S;
  const fm = mapToImage(ex.results[0].map.data, S, 50, 90);
  const st = readSafetensors(join(out, files.maps));
  const mapImage = st.tensors.get('mapImage');
  t.deepEqual(mapImage.shape, [50, 90], 'maps.safetensors: mapImage [H, W]');
  t.ok(mapImage.data.every((v, i) => v === Math.fround(fm.map[i])), 'mapImage = mapToImage(the library\'s map)');
  t.ok(st.tensors.get('map').data.every((v, i) => v === Math.fround(ex.results[0].map.data[i])), 'map: the crop-frame map, as before');
  t.ok(st.tensors.get('compare.gradcam').data.every((v, i) => v === Math.fround(g.results[0].map.data[i])), 'compare.gradcam = explain(gradcam)');
  t.ok(st.tensors.get('compare.layercam').data.every((v, i) => v === Math.fround(l.results[0].map.data[i])), 'compare.layercam = explain(layercam)');
  t.deepEqual(result.compare.map((c) => c.method), ['gradcam', 'layercam'], 'result.json: compare lists the methods');
  // margins: grey (r = g = b) where the model saw nothing, coloured inside
  let greyOut = 0, out_ = 0, colourIn = 0, in_ = 0;
  for (let p = 0; p < 90 * 50; p++) {
    const [R, G, B] = ov.data.subarray(p * 3, p * 3 + 3);
    if (fm.inside[p]) { in_++; if (!(R === G && G === B)) colourIn++; } else { out_++; if (R === G && G === B) greyOut++; }
  }
  t.ok(out_ > 0 && greyOut === out_, `overlay.png: all ${out_} margin pixels grey`);
  t.ok(colourIn > in_ * 0.9, `overlay.png: ${colourIn} of ${in_} seen pixels coloured`);
  // the model's view as before issue 19: show_cam_on_image over the crop
  const crop = centerCropResize(img, S);
  const oc = decodePng(readFileSync(join(out, files.overlayCrop)));
  t.deepEqual(Array.from(oc.data), Array.from(overlay(crop, ex.results[0].map.data, 0.5).data), 'overlay-crop.png: the crop overlay');
  // the report: self-contained, one OSSM panel per component
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  t.notOk(/(src|href)="(https?:)?\/\//.test(html) || /@import|url\(http/.test(html), 'report.html loads nothing from elsewhere');
  t.notOk(/<script/.test(html), 'report.html has no script');
  t.equal((html.match(/class="ossm[ "]/g) ?? []).length, 3, 'one OSSM panel per component');
  for (const step of ['Input', 'Step 1', 'Step 2', 'Step 3', 'Step 4', 'Steps 5–6', 'Step 7', 'Compare', 'Run']) {
    t.ok(html.includes(`<span class="step">${step}</span>`), `report.html has "${step}"`);
  }
  t.end();
});

test('explain.js: a folder (and a repeated --image): a sub-folder per image, index.html, a bad file skipped, exit 1', (t) => {
  const folder = join(dir, 'photos');
  mkdirSync(folder);
  writeFileSync(join(folder, 'a.png'), picture(40, 60));
  writeFileSync(join(folder, 'b.png'), picture(48, 32));
  writeFileSync(join(folder, 'broken.png'), 'not a png at all');
  writeFileSync(join(folder, 'notes.txt'), 'ignored');
  const extra = join(dir, 'extra.png');
  writeFileSync(extra, picture(20, 12)); // smaller than the model's 32 × 32 input: upscaled, then cropped
  const out = join(dir, 'photos-out');
  const r = run(['--model', model, '--image', folder, '--image', extra, '--text', 'a red square', '--components', '2', '--out', out]);
  t.equal(r.code, 1, 'exit 1: something failed');
  t.ok(/\[1\/4\] .*a\.png/.test(r.err) && /\[4\/4\] .*extra\.png/.test(r.err), 'plain [i/N] lines when stderr is not a terminal');
  t.ok(/broken\.png: .*not a PNG or JPEG file.*\(skipped\)/.test(r.err), 'the bad file is named, with why, and skipped');
  t.ok(/3 of 4 images/.test(r.err) || /1 of 4 images failed/.test(r.err), 'the summary counts them');
  t.deepEqual(readdirSync(out).sort(), ['a', 'b', 'extra', 'index.html'], 'a sub-folder per good image, and index.html');
  for (const d of ['a', 'b', 'extra']) {
    t.ok(existsSync(join(out, d, 'report.html')) && existsSync(join(out, d, 'result.json')) && existsSync(join(out, d, '0-a-red-square', 'overlay.png')), `${d}/: report, result, overlay`);
  }
  const index = readFileSync(join(out, 'index.html'), 'utf8');
  t.ok(['a', 'b', 'extra'].every((d) => index.includes(`href="${d}/report.html"`)), 'index.html links every report');
  t.ok(index.includes('broken.png') && index.includes('failed'), 'index.html lists the failure');
  const b = decodePng(readFileSync(join(out, 'b', '0-a-red-square', 'overlay.png')));
  t.deepEqual([b.width, b.height], [48, 32], 'b/…/overlay.png at b.png\'s size');
  const e = decodePng(readFileSync(join(out, 'extra', '0-a-red-square', 'overlay.png')));
  const em = readSafetensors(join(out, 'extra', '0-a-red-square', 'maps.safetensors')).tensors.get('mapImage');
  t.deepEqual([e.width, e.height, ...em.shape], [20, 12, 12, 20], 'a 20×12 image (smaller than S): overlay.png 20×12, mapImage [12, 20]');
  t.end();
});

test('explain.js: an all-zero map is said on stderr and in result.json', (t) => {
  const image = join(dir, 'zero.png');
  writeFileSync(image, picture(32, 32));
  const out = join(dir, 'zero-out');
  // the last block's output does not feed the class token: zero gradients, so Grad-CAM's map is all zero
  const r = run(['--model', model, '--image', image, '--text', 'a red square', '--text', '<script>alert(1)</script>', '--method', 'gradcam',
    '--layer', 'vision.blocks.-1', '--out', out, '--json']);
  t.equal(r.code, 0, 'exit 0');
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  t.ok(!html.includes('<script') && html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), 'a text is shown as text, never run as HTML');
  const result = JSON.parse(r.out);
  t.ok(/warning: gradcam: the final map for "a red square" is all zero/.test(r.err), 'stderr says so');
  t.ok(result.texts[0].warnings.some((w) => w.includes('is all zero')) && result.warnings.some((w) => w.includes('is all zero')), 'result.json says so');
  t.end();
});

test('explain.js: the shipped model given a photo and words it never saw says what it knows and where to read on', (t) => {
  const image = join(dir, 'photo.png');
  writeFileSync(image, picture(150, 100));
  const out = join(dir, 'shipped-out');
  const r = run(['--image', image, '--text', 'a photo of a cat', '--text', 'a blue triangle', '--components', '3', '--out', out, '--json']);
  t.equal(r.code, 0, 'exit 0: a warning, not an error');
  const result = JSON.parse(r.out);
  t.ok(/"a photo of a cat": the shipped model knows only coloured shapes; "photo", "of", "cat" are not among its caption words/.test(r.err), 'the unknown words are named');
  t.notOk(/"a blue triangle": the shipped model/.test(r.err), 'a caption of its own is fine');
  t.ok(/150×100, not one of the 128×128 shape scenes/.test(r.err) && /"Using a real CLIP"/.test(r.err), 'the photo is named, the README section pointed to');
  t.ok(result.warnings.filter((w) => w.includes('Using a real CLIP')).length === 2, 'result.json has both');
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  t.ok(/^## Using a real CLIP/m.test(readme), 'README.md has the section it points to');
  t.ok(shippedModelDir.endsWith(join('weights', 'tiny-clip')), 'the shipped model folder');
  t.end();
});

test('tools/lib/progress.js: plain lines off a terminal (stage lines when asked), one redrawn bar on one', async (t) => {
  const { createProgress } = await import('../tools/lib/progress.js');
  const sink = (isTTY) => ({ isTTY, columns: 120, text: '', write(s) { this.text += s; } });
  const plain = sink(false);
  const p = createProgress(2, { stream: plain, stageLines: true });
  p.start(0, 'a.png'); p.stage('forward', 0, 1); p.stage('perturbed', 0, 10); p.stage('perturbed', 8, 10); p.finish();
  p.start(1, 'b.png'); p.log('warning: x'); p.finish(); p.end();
  t.equal(plain.text, '[1/2] a.png\n  forward\n  perturbed batch 0/10\n  perturbed batch 8/10\n[2/2] b.png\nwarning: x\n', 'plain: [i/N] lines, a line per stage and batch');
  const quiet = sink(false);
  const q = createProgress(1, { stream: quiet });
  q.start(0, 'a.png'); q.stage('forward', 0, 1); q.finish(); q.end();
  t.equal(quiet.text, '', 'one image of a small model: nothing but the tool\'s own lines');
  const tty = sink(true);
  const b = createProgress(4, { stream: tty });
  b.start(0, 'a.png'); b.stage('masks', 0, 1); b.finish(); b.log('note'); b.end();
  t.ok(/\r\x1b\[K\[------------------------\] 0\/4 .* · a\.png · masks/.test(tty.text), 'terminal: the bar with count, rate, ETA, file and stage');
  t.ok(/\[######------------------\] 1\/4 [0-9.]+\/s ETA \d+ s/.test(tty.text), 'after one of four: a quarter filled, a rate and an ETA');
  t.ok(tty.text.includes('\r\x1b[Knote\n') && tty.text.endsWith('\r\x1b[K'), 'a message clears the bar first; the end removes it');
  t.end();
});
