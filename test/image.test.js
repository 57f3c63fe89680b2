// test/image.test.js: src/image/ against reference/image_fixtures.py (PIL 9.4 + libjpeg-turbo, torch 1.13,
// scipy 1.10, OpenCV 4.6): decoding, PIL's bicubic resize, CLIP's preprocessing, torch interpolate, scipy's
// gaussian_filter, OpenCV's JET table and pytorch-grad-cam's overlay. One line per compared stage. Bad input
// (empty, garbage, truncated, corrupt, zero-size, huge) must give a DecomcamError naming the file.
import test from 'tape';
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeImage, loadImage, encodePng } from '../dist/image/decode.js';
import { resizeBicubic } from '../dist/image/resize.js';
import { centerCropResize, toTensor, normalize, preprocessImage } from '../dist/image/preprocess.js';
import { shortSideSize } from '../dist/image/geometry.js';
import { interpolate } from '../dist/image/interpolate.js';
import { gaussianFilter } from '../dist/image/blur.js';
import { jetTable, applyJet, overlay } from '../dist/image/colormap.js';
import { readSafetensors } from '../dist/io/safetensors.js';
import { DecomcamError } from '../dist/errors.js';
import { mulberry32 } from '../dist/tensor/rng.js';
import { assertClose, fixturesDir } from './helpers/compare.js';
import { IMAGE_TOL as TOL } from './tolerances.js'; // relative to each stage's max |reference|


const st = readSafetensors(join(fixturesDir, 'image.safetensors'));
const meta = JSON.parse(readFileSync(join(fixturesDir, 'image.json'), 'utf8'));
const ref = (name) => {
  const t = st.tensors.get(name);
  if (!t) throw new Error(`fixture tensor ${name} missing: rerun reference/image_fixtures.py`);
  return t;
};
const inputPath = (name) => join(fixturesDir, `image.${name}`);
const asImage = (t) => ({ width: t.shape[1], height: t.shape[0], data: t.data }); // (H, W, 3) uint8

// uint8 images that may differ by a few levels (JPEG): one line in levels, with the mean, like assertClose's.
function assertLevels(t, name, ours, want, maxLevels, maxMean = Infinity) {
  let max = 0, at = 0, sum = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(ours[i] - want[i]);
    sum += d;
    if (d > max) { max = d; at = i; }
  }
  const mean = sum / want.length;
  const ok = ours.length === want.length && max <= maxLevels && mean <= maxMean;
  const pad = name.padEnd(32);
  t.ok(ok, ok
    ? `ok   ${pad} max|d| ${max} levels  mean ${mean.toFixed(3)}  tol ${maxLevels} levels${maxMean < Infinity ? `, mean ${maxMean}` : ''}`
    : `FAIL ${pad} max|d| ${max} levels at ${at}: ours ${ours[at]} ref ${want[at]}, mean ${mean.toFixed(3)} (tol ${maxLevels}, mean ${maxMean})`);
}

test('decode: PNG files equal PIL convert("RGB") exactly; JPEG within ±3 levels of libjpeg', (t) => {
  for (const name of meta.inputs) {
    const want = ref(`decode.${name}`);
    const img = loadImage(inputPath(name));
    t.deepEqual([img.height, img.width, 3], want.shape, `decode.${name}: ${img.width}×${img.height}`);
    if (name.endsWith('.png')) {
      assertClose(t, `decode.${name}`, img.data, want.data, TOL.png);
    } else {
      assertLevels(t, `decode.${name}`, img.data, want.data, TOL.jpegLevels, TOL.jpegMeanLevels);
    }
  }
  t.end();
});

// Expects fn to throw a DecomcamError whose message names `source` and matches `pattern`.
function rejects(t, fn, source, pattern, label) {
  try {
    fn();
    t.fail(`${label}: decoded without error`);
  } catch (e) {
    const ok = e instanceof DecomcamError && e.message.includes(source) && pattern.test(e.message);
    t.ok(ok, `${label}: ${e.message}`);
  }
}

// A PNG's IHDR with another width/height (CRC is not fixed: the size check comes first).
function withSize(png, w, h) {
  const b = png.slice();
  const v = new DataView(b.buffer);
  v.setUint32(16, w);
  v.setUint32(20, h);
  return b;
}

test('decode: bad input is a DecomcamError that names the file and the problem', (t) => {
  const png = new Uint8Array(readFileSync(inputPath('rgb8.png')));
  const jpg = new Uint8Array(readFileSync(inputPath('q90_420.jpg')));
  const src = 'image "x"';
  rejects(t, () => decodeImage(new Uint8Array(0), src), src, /empty/, 'empty file');
  rejects(t, () => decodeImage(Uint8Array.from({ length: 100 }, (_, i) => (i * 37) & 255), src), src, /not a PNG or JPEG/, 'garbage bytes');
  rejects(t, () => decodeImage(new TextEncoder().encode('GIF89a........'), src), src, /not a PNG or JPEG.*47 49 46/, 'GIF file');
  rejects(t, () => decodeImage(png.subarray(0, 4), src), src, /truncated/, 'PNG cut inside its signature');
  rejects(t, () => decodeImage(png.subarray(0, 20), src), src, /truncated PNG/, 'PNG cut inside IHDR');
  rejects(t, () => decodeImage(png.subarray(0, png.length >> 1), src), src, /truncated PNG.*IDAT/, 'PNG cut in half');
  rejects(t, () => decodeImage(png.subarray(0, png.length - 12), src), src, /truncated PNG.*IEND/, 'PNG without IEND');
  const flipped = png.slice();
  flipped[png.length >> 1] ^= 0x10;
  rejects(t, () => decodeImage(flipped, src), src, /corrupt PNG.*checksum/, 'PNG with a flipped bit');
  rejects(t, () => decodeImage(withSize(png, 0, 41), src), src, /0×41 pixels/, 'PNG of zero width');
  rejects(t, () => decodeImage(withSize(png, 53, 0), src), src, /53×0 pixels/, 'PNG of zero height');
  rejects(t, () => decodeImage(withSize(png, 100000, 100000), src), src, /more than the 100 MP/, 'PNG claiming 10^10 pixels');
  rejects(t, () => decodeImage(jpg.subarray(0, 3), src), src, /truncated JPEG/, 'JPEG cut after SOI');
  rejects(t, () => decodeImage(jpg.subarray(0, jpg.length >> 1), src), src, /truncated JPEG/, 'JPEG cut in half');
  rejects(t, () => decodeImage(jpg.subarray(0, jpg.length - 2), src), src, /truncated JPEG/, 'JPEG without EOI');
  // zero height in the frame header (SOF0 = FF C0, height at +5)
  const sof = jpg.findIndex((b, i) => b === 0xff && jpg[i + 1] === 0xc0);
  const noRows = jpg.slice();
  noRows[sof + 5] = 0;
  noRows[sof + 6] = 0;
  rejects(t, () => decodeImage(noRows, src), src, /×0 pixels/, 'JPEG of zero height');
  const huge = jpg.slice();
  huge.set([0xff, 0xff, 0xff, 0xff], sof + 5);
  rejects(t, () => decodeImage(huge, src), src, /more than the 100 MP/, 'JPEG claiming 65535×65535');
  rejects(t, () => loadImage('/nonexistent/cat.png'), '/nonexistent/cat.png', /no such file/, 'missing file');
  rejects(t, () => loadImage(fixturesDir), fixturesDir, /directory/, 'a directory');
  const e = (() => { try { decodeImage(new Uint8Array(0)); } catch (err) { return err; } })();
  t.equal(e.code, 'usage', 'bad images are usage errors (exit 2 in the tools)');
  t.end();
});

test('decode: every truncation of small PNG/JPEG files, and seeded random damage, ends in a DecomcamError', (t) => {
  const rand = mulberry32(20240528);
  let truncations = 0, damaged = 0, decoded = 0;
  const bad = [];
  const attempt = (bytes, what) => {
    try {
      const img = decodeImage(bytes, what);
      if (img.data.length !== img.width * img.height * 3) bad.push(`${what}: inconsistent image`);
      return true;
    } catch (e) {
      if (!(e instanceof DecomcamError) || !e.message.startsWith(what)) bad.push(`${what}: ${e.constructor.name} ${e.message}`);
      return false;
    }
  };
  for (const name of ['narrow_420.jpg', 'interlaced_pal2.png', 'gray16.png', 'rgb_trns.png']) {
    const b = new Uint8Array(readFileSync(inputPath(name)));
    for (let n = 0; n < b.length; n++) {
      if (attempt(b.subarray(0, n), name)) bad.push(`${name} cut to ${n} bytes decoded`);
      truncations++;
    }
  }
  // bit flips, overwritten bytes and inserted junk: a JPEG may still decode (as libjpeg would, with
  // warnings) but nothing may throw anything other than a DecomcamError
  for (const name of ['q90_420.jpg', 'progressive_420.jpg', 'rgba8.png', 'interlaced_gray4.png']) {
    const b = new Uint8Array(readFileSync(inputPath(name)));
    for (let n = 0; n < 150; n++) {
      let m = b.slice();
      const at = Math.floor(rand() * m.length);
      if (n % 3 === 0) m[at] ^= 1 << Math.floor(rand() * 8);
      else if (n % 3 === 1) m[at] = Math.floor(rand() * 256);
      else m = Uint8Array.from([...m.subarray(0, at), ...Array.from({ length: 7 }, () => Math.floor(rand() * 256)), ...m.subarray(at)]);
      if (attempt(m, name)) decoded++;
      damaged++;
    }
  }
  t.deepEqual(bad, [], `${truncations} truncations all rejected; ${damaged} damaged files: ${decoded} decoded, ` +
    `the rest rejected with a DecomcamError`);
  t.end();
});

test('decode: PNG tolerates data after IEND (as PIL does)', (t) => {
  const png = new Uint8Array(readFileSync(inputPath('rgb8.png')));
  const padded = new Uint8Array(png.length + 9);
  padded.set(png);
  padded.set([1, 2, 3, 4, 5, 6, 7, 8, 9], png.length);
  assertClose(t, 'decode.rgb8.png + 9 trailing bytes', decodeImage(padded, 'padded').data, ref('decode.rgb8.png').data, 0);
  t.end();
});

test('encodePng: grey and RGB round-trip through the decoder; bad sizes are errors', (t) => {
  const rgb = ref('decode.rgb8.png');
  const back = decodeImage(encodePng(rgb.data, rgb.shape[0], rgb.shape[1]), 'encoded');
  assertClose(t, 'encodePng RGB round trip', back.data, rgb.data, 0);
  const grey = Uint8Array.from({ length: 6 * 5 }, (_, i) => (i * 41) & 255);
  const g = decodeImage(encodePng(grey, 5, 6), 'encoded grey');
  assertClose(t, 'encodePng grey round trip (R channel)', g.data.filter((_, i) => i % 3 === 0), grey, 0);
  const dir = mkdtempSync(join(tmpdir(), 'decomcam-image-'));
  writeFileSync(join(dir, 'g.png'), encodePng(grey, 5, 6));
  t.equal(loadImage(join(dir, 'g.png')).width, 6, 'a written PNG loads from disk');
  t.throws(() => encodePng(grey, 5, 7), DecomcamError, 'length that fits neither grey nor RGB');
  t.throws(() => encodePng(new Uint8Array(0), 0, 0), DecomcamError, 'zero size');
  t.end();
});

test('resize: PIL Image.resize(BICUBIC) bit for bit (down, up, one axis, same size, 1×1)', (t) => {
  for (const [name, tensor] of st.tensors) {
    const m = name.match(/^resize\.(.+)\.(\d+)x(\d+)$/);
    if (!m) continue;
    const src = asImage(ref(`decode.${m[1]}`));
    const out = resizeBicubic(src, Number(m[3]), Number(m[2])); // the names are PIL's W×H
    assertClose(t, name, out.data, tensor.data, TOL.resize);
  }
  t.throws(() => resizeBicubic(asImage(ref('decode.rgb8.png')), 5, 0), DecomcamError, 'zero target size');
  t.throws(() => resizeBicubic({ width: 4, height: 4, data: new Uint8Array(47) }, 2, 2), DecomcamError,
    'image data of the wrong length');
  t.end();
});

test('preprocess: CLIP _transform(n) stage by stage (torchvision rules, PIL bicubic)', (t) => {
  for (const [name, tensor] of st.tensors) {
    const m = name.match(/^preprocess\.(.+)\.(\d+)\.(resized|crop|rgb01|f32|f64)$/);
    if (!m) continue;
    const [, file, nStr, stage] = m;
    const n = Number(nStr);
    const img = loadImage(inputPath(file));
    let ours;
    if (stage === 'resized') {
      const [h, w] = shortSideSize(img.height, img.width, n);
      t.deepEqual([h, w, 3], tensor.shape, `${name}: torchvision's size int(n·long/short)`);
      ours = resizeBicubic(img, h, w).data;
    } else if (stage === 'crop') ours = centerCropResize(img, n).data;
    else if (stage === 'rgb01') ours = toTensor(centerCropResize(img, n)).data;
    else if (stage === 'f32') ours = preprocessImage(img, n).data;
    else ours = preprocessImage(img, n, { dtype: 'float64' }).data;
    if (file.endsWith('.png')) {
      assertClose(t, name, ours, tensor.data, TOL.preprocess);
    } else if (stage === 'resized' || stage === 'crop') {
      assertLevels(t, name, ours, tensor.data, TOL.jpegResizedLevels);
    }
  }
  // the crop offsets round half to even, like Python: 53×41 → 41×32, (41 − 32)/2 = 4.5 → left 4
  const crop = centerCropResize(loadImage(inputPath('rgb8.png')), 32);
  const resized = resizeBicubic(loadImage(inputPath('rgb8.png')), 32, 41);
  t.deepEqual(Array.from(crop.data.subarray(0, 3)), Array.from(resized.data.subarray(4 * 3, 4 * 3 + 3)),
    'crop left offset round(4.5) = 4 (half to even)');
  t.throws(() => preprocessImage(asImage(ref('decode.rgb8.png')), 0), DecomcamError, 'size 0');
  t.throws(() => normalize({ data: new Float32Array(4), shape: [1, 2, 2] }), DecomcamError, 'channel count ≠ mean/std');
  t.end();
});

test('interpolate: torch F.interpolate(bicubic | bilinear, align_corners=False), f32 and f64', (t) => {
  for (const [name, tensor] of st.tensors) {
    const m = name.match(/^upsample\.(bicubic|bilinear)\.(.+)\.(f32|f64)\.out$/);
    if (!m) continue;
    const x = ref(name.replace(/out$/, 'in'));
    const y = interpolate({ data: x.data, shape: x.shape }, tensor.shape[1], tensor.shape[2], m[1]);
    t.ok(y.data instanceof (m[3] === 'f32' ? Float32Array : Float64Array), `${name}: dtype kept`);
    assertClose(t, name, y.data, tensor.data, m[3] === 'f32' ? TOL.interpF32 : TOL.interpF64);
    const exact = st.tensors.get(name.replace(/out$/, 'exact'));
    if (exact) assertClose(t, name.replace(/out$/, 'exact'), y.data, exact.data, TOL.interpF32Exact);
  }
  const two = interpolate({ data: Float64Array.of(1, 2, 3, 4), shape: [2, 2] }, 3, 3, 'bilinear');
  t.deepEqual(two.shape, [3, 3], 'an (h, w) input gives an (H, W) output');
  t.throws(() => interpolate({ data: new Float32Array(4), shape: [2, 2] }, 3, 3, 'nearest'), DecomcamError, 'unknown mode');
  t.throws(() => interpolate({ data: new Float32Array(4), shape: [2, 2] }, 0, 3, 'bicubic'), DecomcamError, 'zero size');
  t.end();
});

test('blur: scipy.ndimage.gaussian_filter(mode="reflect"), (H, W) and per channel of (C, H, W)', (t) => {
  for (const [name, tensor] of st.tensors) {
    const m = name.match(/^blur\.(.+)\.(f32|f64)\.out$/);
    if (!m) continue;
    const { sigma, truncate } = meta.params.blur[m[1]];
    const x = ref(name.replace(/out$/, 'in'));
    const y = gaussianFilter({ data: x.data, shape: x.shape }, sigma, truncate);
    assertClose(t, `${name} (σ ${sigma}, truncate ${truncate})`, y.data, tensor.data, m[2] === 'f32' ? TOL.blurF32 : TOL.blurF64);
  }
  const x = ref('blur.23x17_s1.5.f64.in');
  assertClose(t, 'blur σ 0 is the identity', gaussianFilter({ data: x.data, shape: x.shape }, 0).data, x.data, 0);
  t.throws(() => gaussianFilter({ data: x.data, shape: x.shape }, -1), DecomcamError, 'negative sigma');
  t.throws(() => gaussianFilter({ data: x.data, shape: x.shape }, NaN), DecomcamError, 'NaN sigma');
  t.end();
});

test('colormap: OpenCV COLORMAP_JET table and show_cam_on_image(use_rgb=True) exactly', (t) => {
  assertClose(t, 'colormap.jet (256×3 RGB)', jetTable(), ref('colormap.jet').data, TOL.colormap);
  for (const [c, { image_weight: w }] of Object.entries(meta.params.overlay)) {
    const img = ref(`overlay.${c}.img`);
    const map = ref(`overlay.${c}.map`);
    const [H, W] = map.shape;
    assertClose(t, `overlay.${c}.heatmap`, applyJet(map.data, H, W).data, ref(`overlay.${c}.heatmap`).data, TOL.colormap);
    assertClose(t, `overlay.${c}.out (image weight ${w})`, overlay(asImage(img), map.data, w).data,
      ref(`overlay.${c}.out`).data, TOL.colormap);
  }
  const img = asImage(ref('overlay.9x11_w0.3.img'));
  t.throws(() => overlay(img, new Float32Array(99).fill(1.5)), DecomcamError, 'map value outside [0, 1]');
  t.throws(() => overlay(img, new Float32Array(99).fill(NaN)), DecomcamError, 'NaN in the map');
  t.throws(() => overlay(img, new Float32Array(98)), DecomcamError, 'map size ≠ image size');
  t.throws(() => overlay(img, new Float32Array(99), 2), DecomcamError, 'image weight outside [0, 1]');
  t.end();
});
