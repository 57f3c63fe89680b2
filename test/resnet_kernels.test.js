// test/resnet_kernels.test.js: the ResNet's elementwise kernels on the wasm backend against their reference
// composition, bit for bit (they do the reference's arithmetic: float64 BatchNorm rounded once, a float32 sum,
// ReLU as x > 0 ? x : 0):
//  1. Backend.batchnormAct = nn/batchnorm.ts batchnormForward, then residualForward (with add) and reluForward
//     (with relu), for all four combinations, on plane sizes that leave a tail of 1-3 values, N > 1, with NaN,
//     ±0, ±Infinity and values around 0 in the input;
//  2. Backend.avgpool = nn/avgpool.ts avgpoolForward for k = 1, 2, 3 with ragged edges;
//  3. both on 1 and 2 threads, with operands in the backend's memory and outside it (copied in and out).
import test from 'tape';
import { createWasmBackend } from '../dist/kernels/wasm/backend.js';
import { batchnormAct } from '../dist/nn/batchnorm.js';
import { avgpoolForward } from '../dist/nn/avgpool.js';
import { mulberry32 } from '../dist/tensor/rng.js';

const rng = mulberry32(151);
const rand = (n, s = 1) => Float32Array.from({ length: n }, () => s * (2 * rng() - 1));
const sameBits = (a, b) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
const firstDiff = (a, b) => { const i = a.findIndex((x, j) => !Object.is(x, b[j])); return i < 0 ? 'none' : `[${i}]: ${a[i]} vs ${b[i]}`; };

const wasm1 = createWasmBackend({ threads: 1 });
const why = wasm1.unavailable();
const backends = why ? [] : [['1 thread', wasm1], ['2 threads', createWasmBackend({ threads: 2 })]];

// an input with the awkward values: NaN, ±0, ±Infinity, and values that BN maps near 0
function input(n) {
  const x = rand(n, 3);
  const special = [NaN, 0, -0, Infinity, -Infinity, 1e-30, -1e-30];
  for (let i = 0; i < special.length && i * 7 < n; i++) x[i * 7] = special[i];
  return x;
}

// the operand in the backend's memory (inMem) or a plain array
function place(be, arr, inMem) {
  if (!inMem) return arr.slice();
  const a = be.alloc(arr.length);
  a.set(arr);
  return a;
}

test('wasm batchnormAct = batchnormForward (+ residual) (+ relu), bit for bit', (t) => {
  if (why) { t.skip(`wasm backend unavailable here: ${why}`); t.end(); return; }
  // [N, C, HW]: tails of 1-3 values, one value, big planes (split over threads)
  for (const [N, C, HW] of [[1, 3, 5], [2, 5, 7], [3, 4, 1], [1, 8, 4096 + 3], [4, 16, 196], [2, 64, 49 * 16 + 2]]) {
    const n = N * C * HW;
    const x = input(n), add = rand(n, 2);
    const w = rand(C, 2), b = rand(C), mean = rand(C), variance = Float32Array.from(rand(C), (v) => Math.abs(v) + 0.01);
    variance[0] = 0; // √(0 + eps)
    for (const withAdd of [false, true]) {
      for (const relu of [false, true]) {
        const ref = new Float32Array(n);
        batchnormAct(ref, x, w, b, mean, variance, N, C, HW, 1e-5, withAdd ? add : null, relu);
        for (const [label, be] of backends) {
          for (const inMem of [true, false]) {
            const y = place(be, new Float32Array(n).fill(7), inMem);
            be.batchnormAct(y, place(be, x, inMem), place(be, w, inMem), place(be, b, inMem), place(be, mean, inMem),
              place(be, variance, inMem), N, C, HW, 1e-5, withAdd ? place(be, add, inMem) : null, relu);
            t.ok(sameBits(y, ref), `N ${N} C ${C} HW ${HW}, add ${withAdd}, relu ${relu}, ${label}, ${inMem ? 'in' : 'outside'} its memory: same bits (first difference ${firstDiff(y, ref)})`);
          }
        }
      }
    }
  }
  t.end();
});

test('wasm avgpool = avgpoolForward, bit for bit', (t) => {
  if (why) { t.skip(`wasm backend unavailable here: ${why}`); t.end(); return; }
  // [NC, H, W, k]: even, odd (a dropped row and column), k = 1 (a copy), k = 3, and big enough to be split
  for (const [NC, H, W, k] of [[3, 4, 4, 2], [5, 7, 9, 2], [2, 6, 5, 1], [4, 10, 11, 3], [256, 56, 56, 2], [7, 2, 3, 2]]) {
    const x = input(NC * H * W);
    x.fill(-0, 0, 2 * W); // a window of −0 only: 0 + (−0) is +0 in the reference's sum
    const Ho = Math.floor(H / k), Wo = Math.floor(W / k);
    const ref = new Float32Array(NC * Ho * Wo);
    avgpoolForward(ref, x, NC, H, W, k);
    for (const [label, be] of backends) {
      for (const inMem of [true, false]) {
        const y = place(be, new Float32Array(NC * Ho * Wo).fill(7), inMem);
        be.avgpool(y, place(be, x, inMem), NC, H, W, k);
        t.ok(sameBits(y, ref), `NC ${NC} ${H}×${W} k ${k}, ${label}, ${inMem ? 'in' : 'outside'} its memory: same bits (first difference ${firstDiff(y, ref)})`);
      }
    }
  }
  t.end();
});

test('float64 arrays go to the reference loops', (t) => {
  if (why) { t.skip(`wasm backend unavailable here: ${why}`); t.end(); return; }
  const [N, C, HW] = [2, 3, 5], n = N * C * HW;
  const x = Float64Array.from(input(n)), w = Float64Array.from(rand(C)), b = Float64Array.from(rand(C));
  const mean = Float64Array.from(rand(C)), variance = Float64Array.from(rand(C), (v) => Math.abs(v) + 0.1);
  const ref = new Float64Array(n), y = new Float64Array(n);
  batchnormAct(ref, x, w, b, mean, variance, N, C, HW, 1e-5, null, true);
  wasm1.batchnormAct(y, x, w, b, mean, variance, N, C, HW, 1e-5, null, true);
  t.ok(sameBits(y, ref), 'batchnormAct in float64: the reference, bit for bit');
  const p = new Float64Array(N * C * 4), pr = new Float64Array(N * C * 4), xp = Float64Array.from(input(N * C * 16));
  avgpoolForward(pr, xp, N * C, 4, 4, 2);
  wasm1.avgpool(p, xp, N * C, 4, 4, 2);
  t.ok(sameBits(p, pr), 'avgpool in float64: the reference, bit for bit');
  t.end();
});

test.onFinish(() => { for (const [, be] of backends) be.close(); });
