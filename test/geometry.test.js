// test/geometry.test.js: sizes are (H, W) everywhere, checked on non-square inputs so a swapped pair fails.
// Against reference/geometry_fixtures.py (torchvision 0.14's Resize + CenterCrop run on real images, PIL's
// bicubic resize, OpenCV's JET) and facts one can derive by hand (a PNG's IHDR, a frame's pixel centres).
// The crop geometry has one home, image/geometry.ts; preprocessing and the eval frames both use it.
import test from 'tape';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { clipCrop, shortSideSize, centerCropOffsets, roundHalfEven } from '../dist/image/geometry.js';
import { centerCropResize } from '../dist/image/preprocess.js';
import { resizeBicubic } from '../dist/image/resize.js';
import { applyJet } from '../dist/image/colormap.js';
import { decodeImage, encodePng } from '../dist/image/decode.js';
import { clipCenterCropGeometry, clipCenterCropFrame, identityFrame, mapPixelCentre } from '../dist/eval/frame.js';
import { DecomcamError } from '../dist/errors.js';
import { assertClose, fixturesDir } from './helpers/compare.js';

const ref = JSON.parse(readFileSync(join(fixturesDir, 'geometry.json'), 'utf8'));
const FRAME_F64 = 1e-14; // frame points: the same float64 products in another order (relative to max |point|)

test('geometry: clipCrop is torchvision\'s Resize(S) + CenterCrop(S) on (H, W) images', (t) => {
  t.ok(ref.crop.length >= 10, `${ref.crop.length} torchvision cases`);
  for (const c of ref.crop) {
    const ours = clipCrop(c.H, c.W, c.S);
    t.deepEqual([ours.resizedH, ours.resizedW, ours.top, ours.left], [...c.resized, c.top, c.left],
      `(${c.H}, ${c.W}) at ${c.S}: resized (${c.resized}), top ${c.top}, left ${c.left}`);
    t.deepEqual(shortSideSize(c.H, c.W, c.S), c.resized, `shortSideSize (${c.H}, ${c.W}) → (${c.resized})`);
    const g = clipCenterCropGeometry(c.H, c.W, 7, 7, c.S);
    t.deepEqual([g.resizedHeight, g.resizedWidth, g.cropTop, g.cropLeft], [...c.resized, c.top, c.left],
      `clipCenterCropGeometry (${c.H}, ${c.W}) is the same geometry`);
  }
  // the rounding torchvision uses: int(round(margin / 2.0)), Python's round, halves to the even neighbour
  t.deepEqual([1, 3, 5, 7, 9].map((m) => centerCropOffsets(10 + m, 10, 10)[0]), [0, 2, 2, 4, 4], 'odd margins 1,3,5,7,9 → 0,2,2,4,4');
  t.deepEqual([0.5, 1.5, 2.5, 3.5, 2.4, 2.6].map(roundHalfEven), [0, 2, 2, 4, 2, 3], 'roundHalfEven as Python round');
  t.throws(() => centerCropOffsets(5, 9, 6), DecomcamError, 'image smaller than the crop');
  t.throws(() => clipCrop(0, 5, 2), DecomcamError, 'zero height');
  t.end();
});

test('geometry: the crop of a non-square image is cut where clipCrop says', (t) => {
  // A (7, 12) image whose pixel (y, x) holds (y, x, 0); at S = 7 no resize runs, so the crop's first pixel
  // names its offsets: margin 5 → left round(2.5) = 2.
  const H = 7, W = 12, data = new Uint8Array(H * W * 3);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) data.set([y, x, 0], (y * W + x) * 3);
  const crop = centerCropResize({ width: W, height: H, data }, 7);
  t.deepEqual([crop.height, crop.width, crop.data[0], crop.data[1]], [7, 7, 0, 2], 'top 0, left 2');
  const portrait = centerCropResize({ width: H, height: W, data: transpose(data, H, W) }, 7);
  t.deepEqual([portrait.data[0], portrait.data[1]], [0, 2], 'the transposed image: top 2, left 0');
  t.end();
});

test('geometry: a non-square map\'s frame carries pixel centres as torchvision\'s crop does', (t) => {
  for (const f of ref.frame) {
    const [mh, mw] = f.map;
    const frame = clipCenterCropFrame(f.H, f.W, mh, mw, f.S);
    t.deepEqual([frame.origHeight, frame.origWidth], [f.H, f.W], `(${f.H}, ${f.W}) frame keeps the original's size`);
    const ours = [];
    for (let i = 0; i < mh; i++) for (let j = 0; j < mw; j++) { const p = mapPixelCentre(frame, i, j); ours.push(p.x, p.y); }
    assertClose(t, `frame (${f.H}, ${f.W}) map (${mh}, ${mw})`, ours, f.points_xy.flat(), FRAME_F64);
  }
  // by hand: (20, 40) at 10 → resized (10, 20), left 5; a (5, 10) map over the 10×10 crop: a map row is
  // 2 crop rows = 4 original rows, a map column 1 crop column = 2 original columns. Pixel (4, 9): x = 2·(5 + 9.5)
  // = 29, y = 4·4.5 = 18.
  const p = mapPixelCentre(clipCenterCropFrame(20, 40, 5, 10, 10), 4, 9);
  t.deepEqual([p.x, p.y], [29, 18], 'map (5, 10) pixel (4, 9) → original (x 29, y 18)');
  const id = identityFrame(3, 5);
  t.deepEqual([id.origHeight, id.origWidth], [3, 5], 'identityFrame(H 3, W 5)');
  t.end();
});

test('geometry: resizeBicubic(img, H, W) on a 3×5 image is PIL\'s resize((W, H))', (t) => {
  const [H, W] = ref.resize.in_shape;
  const img = { width: W, height: H, data: Uint8Array.from(ref.resize.in) };
  for (const c of ref.resize.cases) {
    const [h, w] = c.to;
    const out = resizeBicubic(img, h, w);
    t.deepEqual([out.height, out.width], [h, w], `(3, 5) → (${h}, ${w}): height ${h}, width ${w}`);
    assertClose(t, `resize (3, 5) → (${h}, ${w})`, out.data, c.out, 0);
  }
  t.end();
});

test('geometry: applyJet(map, H, W) and encodePng(data, H, W) on a (3, 5) map', (t) => {
  const [H, W] = ref.jet.shape;
  const heat = applyJet(Float32Array.from(ref.jet.map), H, W);
  t.deepEqual([heat.height, heat.width], [3, 5], 'applyJet: an image 3 rows by 5 columns');
  assertClose(t, 'applyJet (3, 5) vs cv2.applyColorMap', heat.data, ref.jet.rgb, 0);
  t.deepEqual(Array.from(heat.data.subarray((2 * W + 4) * 3, (2 * W + 4) * 3 + 3)), [128, 0, 0],
    'row 2, column 4 (the map\'s 1.0) is JET\'s dark red');
  const png = encodePng(heat.data, H, W);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  t.deepEqual([view.getUint32(16), view.getUint32(20)], [5, 3], 'IHDR: width 5, height 3 (PNG stores width first)');
  const back = decodeImage(png, 'encoded (3, 5)');
  t.deepEqual([back.height, back.width], [3, 5], 'decodes as 3 rows by 5 columns');
  assertClose(t, 'encodePng (3, 5) round trip', back.data, heat.data, 0);
  const grey = encodePng(new Uint8Array(15), 3, 5);
  t.deepEqual([new DataView(grey.buffer, grey.byteOffset).getUint32(16), new DataView(grey.buffer, grey.byteOffset).getUint32(20)],
    [5, 3], 'grey (3, 5): IHDR width 5, height 3');
  t.end();
});

// (H, W, 3) → (W, H, 3)
function transpose(data, H, W) {
  const out = new Uint8Array(data.length);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) out.set(data.subarray((y * W + x) * 3, (y * W + x) * 3 + 3), (x * H + y) * 3);
  return out;
}
