// test/eval.test.js: the eval metrics (src/eval/) on hand-made maps whose answers are worked out by hand
// (exact facts, written beside each case), then against reference/fixtures/eval.safetensors, which
// reference/eval_fixtures.py computed independently (torchray's pointing rule in torch, numpy, scipy.ndimage).
import test from 'tape';
import { join } from 'node:path';
import { DecomcamError } from '../dist/errors.js';
import {
  identityFrame, cropFrame, clipCenterCropGeometry, clipCenterCropFrame, roundHalfEven,
} from '../dist/eval/frame.js';
import { pointingGame } from '../dist/eval/pointing.js';
import { energyPointingGame } from '../dist/eval/energy.js';
import {
  deletionCurve, insertionCurve, saliencyOrder, stepCounts, trapezoidAuc,
} from '../dist/eval/deletion.js';
import {
  camMultImage, dropInConfidence, increaseInConfidence, averageDropIncrease,
} from '../dist/eval/confidence.js';
import { boxIou, largestRegionBox, mapBoxIou } from '../dist/eval/boxiou.js';
import { readSafetensors } from '../dist/io/safetensors.js';
import { assertClose, fixturesDir } from './helpers/compare.js';

// Tolerances against the fixture, relative to each stage's max |ref|. Hits, points in the identity frame,
// step fractions, region boxes and sizes are exact; float64 sums in another order get 1e-12.
const TOL = {
  exact: 0,
  float64Sum: 1e-12,   // energy shares, scores of a linear scorer, AUCs, IoUs, drop/increase
  framePoint: 1e-12,   // crop-frame points: the same affine map, grouped differently
};

// ---- helpers for hand-made maps ----
function zeros(H, W) { return new Float64Array(H * W); }
function put(map, W, row, col, v) { map[row * W + col] = v; return map; }
function fill(map, W, r0, r1, c0, c1, v) { // rows r0..r1, cols c0..c1 inclusive
  for (let i = r0; i <= r1; i++) for (let j = c0; j <= c1; j++) map[i * W + j] = v;
  return map;
}
function throwsDecomcam(t, fn, re, msg) {
  try { fn(); t.fail(`${msg}: did not throw`); } catch (e) {
    t.ok(e instanceof DecomcamError && re.test(e.message), `${msg}: ${e.message}`);
  }
}
async function rejectsDecomcam(t, promiseFn, re, msg) {
  try { await promiseFn(); t.fail(`${msg}: did not reject`); } catch (e) {
    t.ok(e instanceof DecomcamError && re.test(e.message), `${msg}: ${e.message}`);
  }
}

// ================= frames =================
test('frame: CLIP centre-crop geometry (torchvision Resize + CenterCrop arithmetic)', (t) => {
  // 20×10 → short side 10 stays, long int(10·20/10) = 20; crop left round(10/2) = 5.
  t.deepEqual(clipCenterCropGeometry(10, 20, 10, 10, 10),
    { origWidth: 20, origHeight: 10, resizedWidth: 20, resizedHeight: 10, cropLeft: 5, cropTop: 0,
      cropWidth: 10, cropHeight: 10, mapWidth: 10, mapHeight: 10 }, 'landscape 20×10 at 10: left 5');
  // 33×20 at 10: long = int(16.5) = 16 (truncation); left = round(3.0) = 3.
  const g = clipCenterCropGeometry(20, 33, 10, 10, 10);
  t.deepEqual([g.resizedWidth, g.resizedHeight, g.cropLeft, g.cropTop], [16, 10, 3, 0], '33×20: int() truncates 16.5 to 16');
  // Python round halves to even: 15 → (15-10)/2 = 2.5 → 2; 17 → 3.5 → 4.
  t.equal(clipCenterCropGeometry(10, 15, 10, 10, 10).cropLeft, 2, 'offset 2.5 rounds to 2 (half to even)');
  t.equal(clipCenterCropGeometry(10, 17, 10, 10, 10).cropLeft, 4, 'offset 3.5 rounds to 4 (half to even)');
  // Portrait 10×25: resized 10×25, top round(7.5) = 8.
  const p = clipCenterCropGeometry(25, 10, 10, 10, 10);
  t.deepEqual([p.resizedWidth, p.resizedHeight, p.cropLeft, p.cropTop], [10, 25, 0, 8], 'portrait: top 7.5 → 8');
  t.deepEqual([0.5, 1.5, 2.5, 3.5, -0.5, 2.4, 2.6].map(roundHalfEven), [0, 2, 2, 4, 0, 2, 3], 'roundHalfEven as Python round');
  // 40×20 → resized 20×10 (÷2), left 5; map 10×10 over the 10-pixel crop: x_orig = 2·(x_map + 5).
  const f = clipCenterCropFrame(20, 40, 10, 10, 10);
  t.deepEqual([f.scaleX, f.scaleY, f.offsetX, f.offsetY, f.origWidth, f.origHeight], [2, 2, 10, 0, 40, 20], '40×20 frame: scale 2, offset 10');
  throwsDecomcam(t, () => cropFrame({ origWidth: 10, origHeight: 10, resizedWidth: 10, resizedHeight: 10,
    cropLeft: 2, cropTop: 0, cropWidth: 10, cropHeight: 10, mapWidth: 5, mapHeight: 5 }), /does not lie inside/, 'crop outside the resized image');
  t.end();
});

// ================= pointing game =================
test('pointing: a peak inside / beside a box, torchray strict tolerance', (t) => {
  const m = put(zeros(10, 10), 10, 3, 7, 1); // peak at row 3, col 7
  const box = [6, 2, 9, 5];                  // cols 6..8, rows 2..4 contain it
  let r = pointingGame(m, 10, 10, { boxes: [box] }, { tolerance: 1 });
  t.deepEqual([r.hit, r.row, r.col, r.x, r.y, r.distance, r.maxCount], [true, 3, 7, 7, 3, 0, 1], 'inside: hit at distance 0');
  r = pointingGame(m, 10, 10, { boxes: [box] }, { tolerance: 0 });
  t.equal(r.hit, false, 'tolerance 0 never hits: torchray tests d² < tol² strictly');

  // 40×40, box cols 0..4 rows 10..19. A peak at (15, 19) is 15 px from col 4: miss at 15; (15, 18) is 14: hit.
  const b = { boxes: [[0, 10, 5, 20]] };
  r = pointingGame(put(zeros(40, 40), 40, 15, 19, 1), 40, 40, b);
  t.deepEqual([r.hit, r.distance], [false, 15], 'distance exactly 15 is a miss at the default tolerance 15');
  r = pointingGame(put(zeros(40, 40), 40, 15, 18, 1), 40, 40, b);
  t.deepEqual([r.hit, r.distance], [true, 14], 'distance 14 is a hit');
  // Diagonal: (31, 13) → nearest pixel (19, 4): dy 12, dx 9 → 15 → miss; (31, 12): √(144+64) ≈ 14.42 → hit.
  r = pointingGame(put(zeros(40, 40), 40, 31, 13, 1), 40, 40, b);
  t.deepEqual([r.hit, r.distance], [false, 15], '9-12-15 diagonal: miss');
  r = pointingGame(put(zeros(40, 40), 40, 31, 12, 1), 40, 40, b);
  t.deepEqual([r.hit, r.distance], [true, Math.sqrt(208)], '8-12 diagonal: hit');
  // A box reaching past the image is clipped to it: [8, 8, 20, 20] on 10×10 covers rows/cols 8..9.
  r = pointingGame(put(zeros(10, 10), 10, 9, 9, 1), 10, 10, { boxes: [[8, 8, 20, 20]] }, { tolerance: 1 });
  t.equal(r.hit, true, 'box clipped to the image still hits');
  // Two boxes: the nearer one decides.
  r = pointingGame(put(zeros(10, 10), 10, 0, 0, 1), 10, 10, { boxes: [[8, 8, 10, 10], [0, 3, 1, 4]] }, { tolerance: 3.5 });
  t.deepEqual([r.hit, r.distance], [true, 3], 'union of boxes: nearest is 3 away');
  t.end();
});

test('pointing: ties take the first maximum in row-major order (torch.argmax)', (t) => {
  const box = { boxes: [[4, 4, 7, 7]] };
  let m = put(put(zeros(10, 10), 10, 0, 9, 1), 10, 5, 5, 1); // maxima at (0, 9) then (5, 5)
  let r = pointingGame(m, 10, 10, box, { tolerance: 1 });
  t.deepEqual([r.hit, r.row, r.col, r.maxCount], [false, 0, 9, 2], 'first maximum (0, 9) is outside: miss');
  m = put(put(zeros(10, 10), 10, 5, 5, 1), 10, 9, 0, 1); // maxima at (5, 5) then (9, 0)
  r = pointingGame(m, 10, 10, box, { tolerance: 1 });
  t.deepEqual([r.hit, r.row, r.col, r.maxCount], [true, 5, 5, 2], 'first maximum (5, 5) is inside: hit');
  // Constant and all-zero maps point at the top-left pixel (documented).
  for (const [name, map] of [['constant', new Float32Array(100).fill(0.3)], ['all-zero', new Float32Array(100)]]) {
    r = pointingGame(map, 10, 10, { boxes: [[0, 0, 2, 2]] }, { tolerance: 1 });
    t.deepEqual([r.hit, r.row, r.col, r.maxCount], [true, 0, 0, 100], `${name} map: points at (0, 0), 100-way tie, hits a top-left box`);
    r = pointingGame(map, 10, 10, { boxes: [[5, 5, 8, 8]] }, { tolerance: 3 });
    t.deepEqual([r.hit, r.distance], [false, Math.sqrt(50)], `${name} map: misses a box √50 away`);
  }
  t.end();
});

test('pointing: empty boxes, masks, the crop frame, bad input', (t) => {
  const m = put(zeros(10, 10), 10, 3, 3, 1);
  let r = pointingGame(m, 10, 10, { boxes: [[3, 3, 3, 8]] });
  t.deepEqual([r.hit, r.distance], [false, Infinity], 'zero-width box covers no pixel: miss, distance Infinity');
  r = pointingGame(m, 10, 10, { boxes: [] });
  t.deepEqual([r.hit, r.distance], [false, Infinity], 'no boxes: miss');
  r = pointingGame(m, 10, 10, { boxes: [[3.6, 3, 4.4, 4]] });
  t.deepEqual([r.hit, r.distance], [false, Infinity], 'box [3.6, 4.4) holds no pixel centre: covers nothing');

  // Mask with a single pixel at (2, 8); peak at (2, 5): distance 3.
  const mask = new Uint8Array(100); mask[2 * 10 + 8] = 1;
  const mp = put(zeros(10, 10), 10, 2, 5, 1);
  t.equal(pointingGame(mp, 10, 10, { mask }, { tolerance: 3 }).hit, false, 'mask pixel at distance 3, tolerance 3: miss');
  t.equal(pointingGame(mp, 10, 10, { mask }, { tolerance: 3.5 }).hit, true, 'tolerance 3.5: hit');
  t.equal(pointingGame(mp, 10, 10, { mask: new Uint8Array(100) }).hit, false, 'empty mask: miss');

  // Crop frame, scale 1: original 20×10, map 10×10 = original columns 5..14. Map (4, 2) → original (4, 7).
  const f1 = clipCenterCropFrame(10, 20, 10, 10, 10);
  const m1 = put(zeros(10, 10), 10, 4, 2, 1);
  r = pointingGame(m1, 10, 10, { boxes: [[7, 4, 8, 5]] }, { frame: f1, tolerance: 0.5 });
  t.deepEqual([r.hit, r.x, r.y], [true, 7, 4], 'crop frame: map (4, 2) is original pixel (4, 7)');
  r = pointingGame(m1, 10, 10, { boxes: [[2, 4, 3, 5]] }, { frame: f1, tolerance: 5 });
  t.deepEqual([r.hit, r.distance], [false, 5], 'crop frame: a box 5 px left of the point misses at 5');
  // Scale 2: original 40×20; map (1, 3) has centre (3.5, 1.5) → original (2·(3.5+5), 2·1.5) = (17, 3),
  // i.e. pixel-index coordinates (16.5, 2.5).
  const f2 = clipCenterCropFrame(20, 40, 10, 10, 10);
  r = pointingGame(put(zeros(10, 10), 10, 1, 3, 1), 10, 10, { boxes: [[16, 2, 17, 3]] }, { frame: f2, tolerance: 1 });
  t.deepEqual([r.x, r.y, r.hit, r.distance], [16.5, 2.5, true, Math.SQRT1_2], 'scale-2 frame: point (16.5, 2.5), √½ from pixel (2, 16)');
  const mask2 = new Uint8Array(40 * 20); mask2[3 * 40 + 17] = 1;
  r = pointingGame(put(zeros(10, 10), 10, 1, 3, 1), 10, 10, { mask: mask2 }, { frame: f2, tolerance: 1 });
  t.deepEqual([r.hit, r.distance], [true, Math.SQRT1_2], 'scale-2 frame with a mask at the original resolution');

  throwsDecomcam(t, () => pointingGame(new Float64Array(99), 10, 10, { boxes: [] }), /99 values/, 'map length');
  throwsDecomcam(t, () => pointingGame(put(zeros(2, 2), 2, 1, 1, NaN), 2, 2, { boxes: [] }), /not finite/, 'NaN in map');
  throwsDecomcam(t, () => pointingGame(zeros(2, 2), 2, 2, { boxes: [[3, 0, 1, 1]] }), /x2 < x1/, 'inverted box');
  throwsDecomcam(t, () => pointingGame(zeros(2, 2), 2, 2, { boxes: [], mask: new Uint8Array(4) }), /not both/, 'boxes and mask');
  throwsDecomcam(t, () => pointingGame(zeros(2, 2), 2, 2, {}), /neither/, 'no object');
  throwsDecomcam(t, () => pointingGame(zeros(2, 2), 2, 2, { mask: new Uint8Array(3) }), /original resolution/, 'mask size');
  throwsDecomcam(t, () => pointingGame(zeros(2, 2), 2, 2, { boxes: [] }, { tolerance: -1 }), /tolerance/, 'negative tolerance');
  throwsDecomcam(t, () => pointingGame([1, 2, 3, 4], 2, 2, { boxes: [] }), /Float32Array or Float64Array/, 'plain array map');
  t.end();
});

test('strict pointing: the maximum inside the mask or box, no tolerance', (t) => {
  // box cols 6..8, rows 2..4; a peak at (3, 7) is inside, at (3, 9) one column right of it
  const box = { boxes: [[6, 2, 9, 5]] };
  let r = pointingGame(put(zeros(10, 10), 10, 3, 7, 1), 10, 10, box);
  t.deepEqual([r.hit, r.inside], [true, true], 'inside the box: a hit and inside');
  r = pointingGame(put(zeros(10, 10), 10, 3, 9, 1), 10, 10, box);
  t.deepEqual([r.hit, r.inside, r.distance], [true, false, 1], 'one pixel right of the box: the 15-px rule hits, the strict game misses');
  r = pointingGame(put(zeros(10, 10), 10, 3, 8, 1), 10, 10, box);
  t.equal(r.inside, true, 'column 8 is the box\'s last (x2 = 9 exclusive)');
  // a mask: an L of three pixels (2, 8), (3, 8), (3, 7); the peak at (2, 7) touches all three but is not one
  const mask = new Uint8Array(100); mask[28] = 1; mask[38] = 1; mask[37] = 1;
  r = pointingGame(put(zeros(10, 10), 10, 2, 7, 1), 10, 10, { mask });
  t.deepEqual([r.hit, r.inside], [true, false], 'mask: the notch of the L is near (hit) but not inside');
  r = pointingGame(put(zeros(10, 10), 10, 3, 7, 1), 10, 10, { mask });
  t.deepEqual([r.hit, r.inside], [true, true], 'mask: a pixel of the L is inside');
  // ties: the first maximum decides, as for the loose game
  r = pointingGame(put(put(zeros(10, 10), 10, 0, 0, 1), 10, 10, 3, 7, 1), 10, 10, box);
  t.deepEqual([r.row, r.col, r.inside], [0, 0, false], 'the first of two maxima is outside: not inside');
  // scale-2 crop frame (original 40×20): map (1, 3) has its centre at original (17, 3), inside pixel row 3, column 17
  const f2 = clipCenterCropFrame(20, 40, 10, 10, 10);
  const m = put(zeros(10, 10), 10, 1, 3, 1);
  t.equal(pointingGame(m, 10, 10, { boxes: [[17, 3, 18, 4]] }, { frame: f2 }).inside, true, 'crop frame: the centre (17, 3) lies in box [17, 3, 18, 4)');
  t.equal(pointingGame(m, 10, 10, { boxes: [[16, 2, 17, 3]] }, { frame: f2 }).inside, false, 'crop frame: not in box [16, 2, 17, 3), whose end is exclusive');
  const mask2 = new Uint8Array(40 * 20); mask2[3 * 40 + 17] = 1;
  t.equal(pointingGame(m, 10, 10, { mask: mask2 }, { frame: f2 }).inside, true, 'crop frame: the centre falls in mask pixel (3, 17)');
  t.end();
});

// ================= energy-based pointing game =================
test('energy: hand-computed shares of mass', (t) => {
  // Constant map, box over columns 0..2 of 10×10: 30 of 100 pixels.
  t.equal(energyPointingGame(new Float32Array(100).fill(2), 10, 10, { boxes: [[0, 0, 3, 10]] }), 0.3, 'constant map: the box area share, 0.3');
  // 0.75 on each of the 4 pixels of box [2,2,4,4] (mass 3) and 1 on 7 pixels outside (mass 7): 3 / 10.
  const m = fill(zeros(10, 10), 10, 2, 3, 2, 3, 0.75);
  for (let k = 0; k < 7; k++) put(m, 10, 9, k, 1);
  t.equal(energyPointingGame(m, 10, 10, { boxes: [[2, 2, 4, 4]] }), 0.3, '3 of 10 units of mass inside: 0.3');
  // Overlapping boxes count the overlap once: 25 + 25 - 4 = 46 of 100.
  t.equal(energyPointingGame(new Float64Array(100).fill(1), 10, 10, { boxes: [[0, 0, 5, 5], [3, 3, 8, 8]] }), 0.46, 'union of two boxes: 0.46');
  t.equal(energyPointingGame(zeros(10, 10), 10, 10, { boxes: [[0, 0, 5, 5]] }), 0, 'all-zero map: 0 (defined)');
  t.equal(energyPointingGame(m, 10, 10, { boxes: [[2, 2, 2, 9]] }), 0, 'empty box: 0');
  t.equal(energyPointingGame(m, 10, 10, { boxes: [] }), 0, 'no boxes: 0');
  // Pixel-centre rule on a 3×1 map: centres 0.5, 1.5, 2.5; [0.5, 1.5) holds only the first.
  t.equal(energyPointingGame(new Float64Array(3).fill(1), 1, 3, { boxes: [[0.5, 0, 1.5, 1]] }), 1 / 3, 'fractional box [0.5, 1.5): one centre of three');
  t.equal(energyPointingGame(new Float64Array(3).fill(1), 1, 3, { boxes: [[0.6, 0, 1.5, 1]] }), 0, 'fractional box [0.6, 1.5): no centre');
  // A mask over the left half of the image.
  const mask = new Uint8Array(100);
  for (let i = 0; i < 10; i++) for (let j = 0; j < 5; j++) mask[i * 10 + j] = 1;
  t.equal(energyPointingGame(new Float64Array(100).fill(1), 10, 10, { mask }), 0.5, 'mask over half: 0.5');
  // Crop frame: original 20×10, map = original columns 5..14. Box over original columns 0..9 holds map
  // columns 0..4 (half); a box over columns 0..4 lies outside the crop entirely.
  const f = clipCenterCropFrame(10, 20, 10, 10, 10);
  const c = new Float64Array(100).fill(1);
  t.equal(energyPointingGame(c, 10, 10, { boxes: [[0, 0, 10, 10]] }, { frame: f }), 0.5, 'crop frame: half the map in the box');
  t.equal(energyPointingGame(c, 10, 10, { boxes: [[0, 0, 5, 10]] }, { frame: f }), 0, 'crop frame: box cut away by the crop');
  throwsDecomcam(t, () => energyPointingGame(put(zeros(2, 2), 2, 0, 1, -0.1), 2, 2, { boxes: [] }), /negative/, 'negative map value');
  t.end();
});

// ================= deletion / insertion =================
test('deletion/insertion: order, step counts, trapezoid', (t) => {
  t.deepEqual([...saliencyOrder(new Float64Array([1, 2, 2, 1]))], [1, 2, 0, 3], 'descending, ties in row-major order');
  t.deepEqual([...saliencyOrder(new Float32Array(5))], [0, 1, 2, 3, 4], 'constant map: row-major walk');
  t.deepEqual([...stepCounts(10, 4)], [0, 2, 5, 7, 10], 'floor(k·10/4)');
  t.deepEqual([...stepCounts(16, 4)], [0, 4, 8, 12, 16], 'even steps');
  // xs 0 .2 .5 .7 1, ys 1 1 0 0 0: 0.2·1 + 0.3·½ = 0.35.
  t.ok(Math.abs(trapezoidAuc([0, 0.2, 0.5, 0.7, 1], [1, 1, 0, 0, 0]) - 0.35) < 1e-15, 'uneven trapezoid: 0.35');
  t.end();
});

test('deletion/insertion: a scorer that reads only the top half', async (t) => {
  // Image of ones (3, 4, 4); score = mean over channels of the top two rows; map marks the top half salient.
  // 4 steps of 4 pixels, zero substrate: deletion scores 1, ½, 0, 0, 0 → AUC ¼·¾ + ¼·¼ = 0.25;
  // insertion 0, ½, 1, 1, 1 → 0.75. With the bottom half salient deletion is 1, 1, 1, ½, 0 → 0.75.
  const H = 4, W = 4, N = 16;
  const image = new Float32Array(3 * N).fill(1);
  const top = (img) => { let s = 0; for (let c = 0; c < 3; c++) for (let p = 0; p < 8; p++) s += img[c * N + p]; return s / 24; };
  const scorer = (imgs) => imgs.map(top);
  const topMap = fill(zeros(H, W), W, 0, 1, 0, 3, 1);
  const botMap = fill(zeros(H, W), W, 2, 3, 0, 3, 1);
  const opts = { steps: 4, substrate: 'zero' };
  let c = await deletionCurve(image, topMap, H, W, scorer, opts);
  t.deepEqual([...c.scores], [1, 0.5, 0, 0, 0], 'deletion scores');
  t.deepEqual([...c.fractions], [0, 0.25, 0.5, 0.75, 1], 'fractions');
  t.equal(c.auc, 0.25, 'deletion AUC 0.25');
  c = await insertionCurve(image, topMap, H, W, scorer, opts);
  t.deepEqual([...c.scores], [0, 0.5, 1, 1, 1], 'insertion scores');
  t.equal(c.auc, 0.75, 'insertion AUC 0.75');
  c = await deletionCurve(image, botMap, H, W, scorer, opts);
  t.equal(c.auc, 0.75, 'deleting the wrong half first: AUC 0.75');
  // A constant map walks row-major, i.e. the top half first: the same curve as topMap.
  c = await deletionCurve(image, new Float64Array(N), H, W, scorer, opts);
  t.deepEqual([...c.scores], [1, 0.5, 0, 0, 0], 'constant map: row-major order, top half first');
  // Score = mean of everything: deletion is 1 - x, AUC ½ even for uneven steps (16 pixels in 3: 0, 5, 10, 16).
  const all = (imgs) => imgs.map((img) => img.reduce((a, b) => a + b, 0) / (3 * N));
  c = await deletionCurve(image, topMap, H, W, all, { steps: 3, substrate: 'zero' });
  t.deepEqual([...c.fractions], [0, 5 / 16, 10 / 16, 1], 'uneven step fractions');
  t.ok(Math.abs(c.auc - 0.5) < 1e-15, `linear curve 1 - x: AUC 0.5 (got ${c.auc})`);
  t.end();
});

test('deletion/insertion: substrates, batching, copies, bad input', async (t) => {
  const H = 2, W = 3, N = 6;
  // Channel c holds c·10 + p: means 2.5, 12.5, 22.5.
  const image = new Float32Array(3 * N).map((_, k) => Math.floor(k / N) * 10 + (k % N));
  const seen = [];
  const grab = (imgs) => { seen.push(...imgs); return imgs.map(() => 0); };
  await deletionCurve(image, new Float64Array(N), H, W, grab, { steps: 2 });
  t.deepEqual([...seen[0]], [...image], 'deletion starts from the image');
  t.deepEqual([...seen[1]], [2.5, 2.5, 2.5, 3, 4, 5, 12.5, 12.5, 12.5, 13, 14, 15, 22.5, 22.5, 22.5, 23, 24, 25], 'half way: first row is the mean colour');
  t.deepEqual([...seen[2]], [...Array(6).fill(2.5), ...Array(6).fill(12.5), ...Array(6).fill(22.5)], 'ends at the per-channel mean (default substrate)');
  t.notEqual(seen[0], seen[1], 'each scored image is its own copy');
  seen.length = 0;
  const blur = new Float32Array(3 * N).fill(7);
  await insertionCurve(image, new Float64Array(N), H, W, grab, { steps: 1, substrate: blur });
  t.deepEqual([[...seen[0]], [...seen[1]]], [[...blur], [...image]], 'insertion from a given substrate to the image');

  // steps 10 on 6 pixels is too many; steps 5, batch 2 → calls of 2, 2, 2; async scorers are awaited.
  const sizes = [];
  const asyncScorer = async (imgs) => { sizes.push(imgs.length); return imgs.map((_, b) => b); };
  const c = await deletionCurve(image, new Float64Array(N), H, W, asyncScorer, { steps: 5, batchSize: 2 });
  t.deepEqual([sizes, [...c.scores]], [[2, 2, 2], [0, 1, 0, 1, 0, 1]], 'batches of 2, async scorer, scores in order');

  await rejectsDecomcam(t, () => deletionCurve(image, new Float64Array(N), H, W, () => [1], { steps: 2 }), /returned 1 scores for a batch of 3/, 'wrong score count');
  await rejectsDecomcam(t, () => deletionCurve(image, new Float64Array(N), H, W, (x) => x.map(() => NaN), { steps: 2 }), /not a finite number/, 'NaN score');
  await rejectsDecomcam(t, () => deletionCurve(new Float32Array(17), new Float64Array(N), H, W, grab), /needs 18/, 'image size');
  await rejectsDecomcam(t, () => deletionCurve(image, new Float64Array(N), H, W, grab, { steps: 0 }), /steps 0/, 'steps 0');
  await rejectsDecomcam(t, () => deletionCurve(image, new Float64Array(N), H, W, grab, { steps: 7 }), /steps 7/, 'steps > pixels');
  seen.length = 0;
  await deletionCurve(image, new Float64Array(N), H, W, grab);
  t.equal(seen.length, 7, 'default steps on a 6-pixel image: one pixel a step, 7 points');
  await rejectsDecomcam(t, () => deletionCurve(image, new Float64Array(N), H, W, grab, { substrate: new Float32Array(3) }), /substrate has 3/, 'substrate size');
  await rejectsDecomcam(t, () => deletionCurve(image, new Float64Array(N), H, W, grab, { substrate: 'blur' }), /'mean', 'zero'/, 'unknown substrate name');
  t.end();
});

// ================= drop / increase in confidence =================
test('confidence: image × map, drop and increase', (t) => {
  const out = camMultImage(new Float32Array([1, 2, 3, 4, 5, 6]), new Float64Array([0.5, 1]), 1, 2);
  t.deepEqual([...out], [0.5, 2, 1.5, 4, 2.5, 6], 'every channel times the map');
  t.equal(dropInConfidence(0.75, 0.5), 0.25, 'drop max(0, Y - O) = 0.25');
  t.equal(dropInConfidence(0.5, 0.75), 0, 'no drop when O > Y');
  t.deepEqual([increaseInConfidence(0.5, 0.75), increaseInConfidence(0.75, 0.5), increaseInConfidence(0.5, 0.5)], [1, 0, 0], 'increase: O > Y only');
  // Drops / Y: 0.25/0.5 = ½ and 0 → 25 %; increases 0 and 1 → 50 %.
  t.deepEqual(averageDropIncrease([0.5, 0.25], [0.25, 0.5]), { averageDrop: 25, increase: 50, n: 2 }, 'averages: 25 % drop, 50 % increase');
  throwsDecomcam(t, () => averageDropIncrease([0.5, -0.1], [0.2, 0.2]), /must be > 0/, 'Y <= 0');
  throwsDecomcam(t, () => averageDropIncrease([0.5], [0.2, 0.2]), /pair up/, 'length mismatch');
  throwsDecomcam(t, () => averageDropIncrease([], []), /no pairs/, 'empty');
  throwsDecomcam(t, () => camMultImage(new Float32Array(6), new Float64Array([0.5, 1.5]), 1, 2), /above 1/, 'map above 1');
  throwsDecomcam(t, () => camMultImage(new Float32Array(6), new Float64Array([-0.5, 1]), 1, 2), /negative/, 'negative map');
  throwsDecomcam(t, () => camMultImage(new Float32Array(5), new Float64Array([0.5, 1]), 1, 2), /\(3, 1, 2\)/, 'image size');
  t.end();
});

// ================= box IoU =================
test('box IoU: boxes', (t) => {
  t.equal(boxIou([0, 0, 2, 2], [1, 1, 3, 3]), 1 / 7, 'overlap 1 of union 7');
  t.equal(boxIou([1, 2, 3, 4], [1, 2, 3, 4]), 1, 'identical');
  t.equal(boxIou([0, 0, 1, 1], [2, 2, 3, 3]), 0, 'disjoint');
  t.equal(boxIou([0, 0, 1, 1], [1, 0, 2, 1]), 0, 'touching edges: no area in common');
  t.equal(boxIou([0, 0, 4, 4], [1, 1, 3, 3]), 0.25, 'contained: 4 / 16');
  t.equal(boxIou([1, 1, 1, 5], [0, 0, 4, 4]), 0, 'empty box');
  t.equal(boxIou([1, 1, 1, 1], [2, 2, 2, 2]), 0, 'two empty boxes: 0 (defined)');
  throwsDecomcam(t, () => boxIou([0, 0, 1], [0, 0, 1, 1]), /four finite numbers/, 'three numbers');
  t.end();
});

test('box IoU: largest region, threshold, connectivity, ties, frames', (t) => {
  // 12-pixel block rows 2..4 × cols 3..6 at 1 and a 4-pixel block rows 7..8 × cols 0..1 at 0.9.
  const m = fill(fill(zeros(10, 10), 10, 2, 4, 3, 6, 1), 10, 7, 8, 0, 1, 0.9);
  let r = mapBoxIou(m, 10, 10, [[3, 2, 7, 5]]);
  t.deepEqual([r.mapBox, r.box, r.regionSize, r.iou, r.boxIndex], [[3, 2, 7, 5], [3, 2, 7, 5], 12, 1, 0], 'the larger block, IoU 1');
  r = mapBoxIou(m, 10, 10, [[5, 2, 9, 5]]);
  t.equal(r.iou, 1 / 3, 'shifted 2 columns: 6 / 18');
  r = mapBoxIou(m, 10, 10, [[0, 0, 1, 1], [5, 2, 9, 5], [3, 2, 7, 6]]);
  t.deepEqual([r.iou, r.boxIndex], [12 / 16, 2], 'several object boxes: the best, 12 / 16');
  // Threshold: a 0.4 column beside the block joins at 0.4 but not at 0.5; 0.5 · max itself is kept (>=).
  const m2 = fill(fill(zeros(10, 10), 10, 2, 4, 3, 6, 1), 10, 2, 4, 7, 7, 0.4);
  t.deepEqual(largestRegionBox(m2, 10, 10).mapBox, [3, 2, 7, 5], 'threshold 0.5 drops the 0.4 column');
  t.deepEqual(largestRegionBox(m2, 10, 10, { threshold: 0.4 }).mapBox, [3, 2, 8, 5], 'threshold 0.4 keeps it (>=)');
  const m3 = fill(fill(zeros(10, 10), 10, 2, 4, 3, 6, 1), 10, 2, 4, 7, 7, 0.5);
  t.deepEqual(largestRegionBox(m3, 10, 10).mapBox, [3, 2, 8, 5], 'a value of exactly 0.5·max is kept');
  // Connectivity: diagonal chain (0,0) (1,1) (2,2) against a horizontal pair (5,5) (5,6).
  const m4 = put(put(put(put(put(zeros(10, 10), 10, 0, 0, 1), 10, 1, 1, 1), 10, 2, 2, 1), 10, 5, 5, 1), 10, 5, 6, 1);
  r = largestRegionBox(m4, 10, 10);
  t.deepEqual([r.mapBox, r.regionSize], [[0, 0, 3, 3], 3], '8-connectivity: the diagonal chain (3 pixels)');
  r = largestRegionBox(m4, 10, 10, { connectivity: 4 });
  t.deepEqual([r.mapBox, r.regionSize], [[5, 5, 7, 6], 2], '4-connectivity: the chain falls apart, the pair wins');
  // Equal sizes: the region met first in a row-major scan, (1, 8) before (6, 2).
  r = largestRegionBox(put(put(zeros(10, 10), 10, 6, 2, 1), 10, 1, 8, 1), 10, 10);
  t.deepEqual(r.mapBox, [8, 1, 9, 2], 'tie between single pixels: the first in raster order');
  // All zeros keeps nothing; a constant map keeps everything.
  r = mapBoxIou(zeros(10, 10), 10, 10, [[0, 0, 10, 10]]);
  t.deepEqual([r.mapBox, r.box, r.regionSize, r.iou, r.boxIndex], [null, null, 0, 0, -1], 'all-zero map: no region, IoU 0');
  r = mapBoxIou(new Float32Array(100).fill(0.2), 10, 10, [[0, 0, 10, 5]]);
  t.deepEqual([r.mapBox, r.iou], [[0, 0, 10, 10], 0.5], 'constant map: the whole map, IoU ½ with the top half');
  t.deepEqual(mapBoxIou(m, 10, 10, []).iou, 0, 'no object boxes: 0');
  // Crop frame 40×20 → scale 2, offset x 10: map block cols 3..6, rows 2..4 → [16, 4, 24, 10].
  r = mapBoxIou(m, 10, 10, [[16, 4, 24, 10]], { frame: clipCenterCropFrame(20, 40, 10, 10, 10) });
  t.deepEqual([r.box, r.iou], [[16, 4, 24, 10], 1], 'crop frame: box carried to the original');
  throwsDecomcam(t, () => largestRegionBox(m, 10, 10, { threshold: 1.5 }), /threshold 1.5/, 'threshold > 1');
  throwsDecomcam(t, () => largestRegionBox(m, 10, 10, { connectivity: 6 }), /connectivity 6/, 'connectivity 6');
  throwsDecomcam(t, () => mapBoxIou(m, 10, 10, [[5, 5, 1, 1]]), /x2 < x1/, 'inverted object box');
  t.end();
});

// ================= against the reference fixture =================
const fx = readSafetensors(join(fixturesDir, 'eval.safetensors'));
const get = (name) => {
  const tns = fx.tensors.get(name);
  if (!tns) throw new Error(`fixture tensor ${name} missing: rerun /usr/bin/python3 reference/eval_fixtures.py`);
  return tns;
};
const row = (name, k) => { const tns = get(name); const n = tns.data.length / tns.shape[0]; return tns.data.subarray(k * n, (k + 1) * n); };
const boxesOf = (name, k) => { const b = row(name, k); const out = []; for (let i = 0; i < b.length; i += 4) out.push([b[i], b[i + 1], b[i + 2], b[i + 3]]); return out; };

test('fixture: pointing game against torchray\'s rule (torch)', (t) => {
  const maps = get('pointing.maps');
  const [K, H, W] = maps.shape;
  const hits = [], points = [];
  for (let k = 0; k < K; k++) {
    const r = pointingGame(row('pointing.maps', k), H, W, { boxes: boxesOf('pointing.boxes', k) },
      { tolerance: get('pointing.tolerance').data[k] });
    hits.push(r.hit ? 1 : 0); points.push(r.x, r.y);
  }
  assertClose(t, 'pointing.point', points, get('pointing.point').data, TOL.exact);
  assertClose(t, 'pointing.hit', hits, get('pointing.hit').data, TOL.exact);
  // In the CLIP crop frame: geometry from Python's int()/round(), then the carried point and the hit.
  const sizes = get('pointing_crop.orig_size').data;
  const [size, tol] = get('pointing_crop.meta').data;
  const cm = get('pointing_crop.maps');
  const [Kc, h, w] = cm.shape;
  const geo = [], cpts = [], chits = [];
  for (let k = 0; k < Kc; k++) {
    const g = clipCenterCropGeometry(sizes[2 * k + 1], sizes[2 * k], h, w, size);
    geo.push(g.resizedWidth, g.resizedHeight, g.cropLeft, g.cropTop);
    const r = pointingGame(row('pointing_crop.maps', k), h, w, { boxes: boxesOf('pointing_crop.boxes', k) },
      { tolerance: tol, frame: cropFrame(g) });
    cpts.push(r.x, r.y); chits.push(r.hit ? 1 : 0);
  }
  assertClose(t, 'pointing_crop.geometry', geo, get('pointing_crop.geometry').data, TOL.exact);
  assertClose(t, 'pointing_crop.point', cpts, get('pointing_crop.point').data, TOL.framePoint);
  assertClose(t, 'pointing_crop.hit', chits, get('pointing_crop.hit').data, TOL.exact);
  t.end();
});

test('fixture: energy-based pointing game (numpy)', (t) => {
  const maps = get('energy.maps');
  const [K, H, W] = maps.shape;
  const shares = [];
  for (let k = 0; k < K; k++) shares.push(energyPointingGame(row('energy.maps', k), H, W, { boxes: boxesOf('energy.boxes', k) }));
  assertClose(t, 'energy.share', shares, get('energy.share').data, TOL.float64Sum);
  t.end();
});

test('fixture: deletion and insertion curves (numpy, linear scorer)', async (t) => {
  const image = get('causal.image');
  const [, H, W] = image.shape;
  const weights = get('causal.weights').data;
  const linear = (imgs) => imgs.map((img) => { let s = 0; for (let i = 0; i < img.length; i++) s += weights[i] * img[i]; return s; });
  const M = get('causal.maps').shape[0];
  for (const steps of [7, 10, 80]) {
    for (const [mode, fn] of [['del', deletionCurve], ['ins', insertionCurve]]) {
      const fr = [], sc = [], auc = [];
      for (let m = 0; m < M; m++) {
        const c = await fn(image.data, row('causal.maps', m), H, W, linear, { steps, substrate: 'mean' });
        fr.push(...c.fractions); sc.push(...c.scores); auc.push(c.auc);
      }
      const key = `causal.${mode}.steps${steps}`;
      assertClose(t, `${key}.fractions`, fr, get(`${key}.fractions`).data, TOL.exact);
      assertClose(t, `${key}.scores`, sc, get(`${key}.scores`).data, TOL.float64Sum);
      assertClose(t, `${key}.auc`, auc, get(`${key}.auc`).data, TOL.float64Sum);
    }
  }
  t.end();
});

test('fixture: box IoU (scipy.ndimage.label)', (t) => {
  const maps = get('boxiou.maps');
  const [K, H, W] = maps.shape;
  for (const connectivity of [8, 4]) {
    for (const threshold of [0.5, 0.3]) {
      const boxes = [], ious = [], sizes = [];
      for (let k = 0; k < K; k++) {
        const r = mapBoxIou(row('boxiou.maps', k), H, W, boxesOf('boxiou.gt', k), { threshold, connectivity });
        boxes.push(...r.box); ious.push(r.iou); sizes.push(r.regionSize);
      }
      const key = `boxiou.conn${connectivity}.thr${Math.round(threshold * 10)}`;
      assertClose(t, `${key}.box`, boxes, get(`${key}.box`).data, TOL.exact);
      assertClose(t, `${key}.size`, sizes, get(`${key}.size`).data, TOL.exact);
      assertClose(t, `${key}.iou`, ious, get(`${key}.iou`).data, TOL.float64Sum);
    }
  }
  t.end();
});

test('fixture: average drop and increase (numpy)', (t) => {
  const r = averageDropIncrease(get('confidence.Y').data, get('confidence.O').data);
  assertClose(t, 'confidence.average_drop', [r.averageDrop], get('confidence.average_drop').data, TOL.float64Sum);
  assertClose(t, 'confidence.increase', [r.increase], get('confidence.increase').data, TOL.float64Sum);
  t.end();
});
