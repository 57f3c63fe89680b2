// test/conv_kernels.test.js: the convolution kernels (issue 15, point 5) against nn/conv2d.ts's reference loops.
//  1. every backend's conv2d / conv2dBackward (wasm 1 and 2 threads, both builds; gpu.js webasm and headless-gl
//     where they run) vs the reference loops in float64, on odd sizes, stride 1 and 2, padding 0, 1 and 2,
//     1×1, 3×3 and 5×5, with and without bias, N = 1 and N > 1: forward, and the backward's dx, dw, db added into
//     non-zero buffers (or skipped: null) — tolerance CONV_TOL (test/tolerances.js), relative to max |reference|;
//  2. the reference loops (float64) against PyTorch's conv2d and autograd (reference/conv_fixtures.py) within
//     1e-12, and each float32 kernel against the same fixture within CONV_TOL;
//  3. determinism: the wasm backend on 1 and 2 threads gives the same bits (shapes big enough to be split), run
//     to run, with operands in its own memory or a prepared weight; float64 runs the reference loops, bit for bit.
// A backend that cannot run here is skipped, saying why (headless-gl needs an X display: xvfb-run -a).
import test from 'tape';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { conv2dBackward, conv2dForward, convOutSize } from '../dist/nn/conv2d.js';
import { createWasmBackend, enableRelaxedSimd } from '../dist/kernels/wasm/backend.js';
import { readSafetensors, getTensor } from '../dist/io/safetensors.js';
import { mulberry32, seededUniform } from '../dist/tensor/rng.js';
import { assertClose, fixturesDir } from './helpers/compare.js';
import { backendsUnderTest } from './helpers/backends.js';
import { CONV_TOL } from './tolerances.js';

enableRelaxedSimd(); // both wasm builds where the engine can have the fused one

const rng = mulberry32(20241203);
const rand = (n) => Float64Array.from({ length: n }, () => 2 * rng() - 1);
const f32 = (a) => (a ? Float32Array.from(a) : null);
const sameBits = (a, b) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

// [N, C, H, W, O, k, stride, pad, bias]
const SHAPES = [
  [1, 1, 1, 1, 1, 1, 1, 0, true],     // the smallest
  [2, 3, 9, 8, 5, 3, 2, 1, true],     // a stride-2 stem on odd sizes
  [1, 3, 17, 15, 8, 3, 2, 1, false],
  [2, 5, 11, 13, 9, 3, 1, 1, true],   // 3×3 stride 1, padded: panels that cross rows and borders
  [1, 3, 10, 10, 4, 3, 2, 0, false],  // unpadded stride 2: a row and a column left over
  [1, 4, 9, 9, 8, 1, 1, 0, false],    // 1×1: no im2col, dx added straight in
  [3, 8, 5, 7, 12, 1, 2, 0, true],    // 1×1 stride 2 (im2col)
  [2, 24, 8, 8, 20, 1, 1, 0, true],   // 1×1, whole panels of 8 positions
  [1, 16, 14, 14, 33, 3, 1, 1, true], // 16-byte copies in im2col; O = 33: a last group of 1 row
  [1, 64, 7, 7, 40, 3, 1, 1, false],  // C·9 = 576 (a fixed-stride tile), 7×7 (every panel crosses rows)
  [1, 32, 20, 20, 16, 3, 1, 1, true], // C·9 = 288 (a fixed-stride tile)
  [2, 9, 6, 5, 64, 1, 1, 0, false],   // dx's reduction over O = 64 (a fixed-stride tile)
  [1, 256, 5, 5, 8, 1, 1, 0, true],   // C = 256 (a fixed-stride tile)
  [1, 3, 12, 11, 6, 5, 1, 2, true],   // 5×5, padding 2
  [1, 8, 32, 32, 8, 3, 1, 1, false],  // a tiny ResNet's 3×3
  [1, 2, 2, 2, 3, 3, 1, 0, true],     // a kernel larger than the input: no output, nothing added
  [1, 3, 40, 38, 6, 7, 2, 3, true],   // 7×7 stride 2 padding 3: im2col's strided 16-byte loads, masked at both edges
  [2, 2, 35, 37, 3, 5, 2, 2, false],  // 5×5 stride 2 padding 2 on odd sides
  [1, 3, 21, 33, 4, 3, 1, 1, true],   // stride 1 panels crossing the padding (masked loads) on a row of 33
];
const tag = (s) => `[${s.join(',')}]`;

// The inputs of one case (float64), and the reference loops' results: y, and dx, dw, db added into d0 buffers.
function referenceCase([N, C, H, W, O, k, s, p, bias]) {
  const Ho = convOutSize(H, k, s, p), Wo = convOutSize(W, k, s, p);
  const inp = { x: rand(N * C * H * W), w: rand(O * C * k * k), b: bias ? rand(O) : null, dy: rand(N * O * Ho * Wo),
    dx0: rand(N * C * H * W), dw0: rand(O * C * k * k), db0: rand(O) };
  const y = new Float64Array(N * O * Ho * Wo);
  conv2dForward(y, inp.x, inp.w, inp.b, N, C, H, W, O, k, k, s, p);
  const dx = inp.dx0.slice(), dw = inp.dw0.slice(), db = inp.db0.slice();
  conv2dBackward(dx, dw, db, inp.dy, inp.x, inp.w, N, C, H, W, O, k, k, s, p);
  return { inp, ref: { y, dx, dw, db } };
}

// The same case on a backend in float32.
function runCase(be, [N, C, H, W, O, k, s, p], inp) {
  const Ho = convOutSize(H, k, s, p), Wo = convOutSize(W, k, s, p);
  const x = f32(inp.x), w = f32(inp.w), dy = f32(inp.dy);
  const y = new Float32Array(N * O * Ho * Wo);
  be.conv2d(y, x, w, f32(inp.b), N, C, H, W, O, k, k, s, p);
  const dx = f32(inp.dx0), dw = f32(inp.dw0), db = f32(inp.db0);
  be.conv2dBackward(dx, dw, db, dy, x, w, N, C, H, W, O, k, k, s, p);
  // dx alone (dw, db null), as DecomCAM asks
  const dxOnly = f32(inp.dx0);
  be.conv2dBackward(dxOnly, null, null, dy, x, w, N, C, H, W, O, k, k, s, p);
  return { y, dx, dw, db, dxOnly };
}

const BACKENDS = backendsUnderTest();
const CASES = SHAPES.map((shape) => ({ shape, ...referenceCase(shape) }));

for (const [label, be] of BACKENDS) {
  test(`conv kernels, ${label}: vs the reference loops`, (t) => {
    if (typeof be === 'string') {
      t.skip(`skipped: ${label} cannot run here: ${be}`);
      t.end();
      return;
    }
    t.comment(be.describe());
    for (const { shape, inp, ref } of CASES) {
      const ours = runCase(be, shape, inp);
      assertClose(t, `conv ${tag(shape)} y`, ours.y, ref.y, CONV_TOL.forward);
      assertClose(t, `conv ${tag(shape)} dx (+=)`, ours.dx, ref.dx, CONV_TOL.backward);
      assertClose(t, `conv ${tag(shape)} dw (+=)`, ours.dw, ref.dw, CONV_TOL.backward);
      assertClose(t, `conv ${tag(shape)} db (+=)`, ours.db, ref.db, CONV_TOL.backward);
      t.ok(sameBits(ours.dxOnly, ours.dx), `conv ${tag(shape)}: dx alone (dw, db null) = dx beside them, bit for bit`);
    }
    // float64 (the oracle mode) runs the reference loops: identical
    const { shape: [N, C, H, W, O, k, s, p], inp, ref } = CASES[3];
    const y = new Float64Array(ref.y.length), dx = inp.dx0.slice(), dw = inp.dw0.slice(), db = inp.db0.slice();
    be.conv2d(y, inp.x, inp.w, inp.b, N, C, H, W, O, k, k, s, p);
    be.conv2dBackward(dx, dw, db, inp.dy, inp.x, inp.w, N, C, H, W, O, k, k, s, p);
    t.ok(sameBits(y, ref.y) && sameBits(dx, ref.dx) && sameBits(dw, ref.dw) && sameBits(db, ref.db),
      'float64 conv2d and backward: the reference loops, bit for bit');
    t.end();
  });
}

test('conv: the reference loops and every backend vs PyTorch (reference/conv_fixtures.py)', (t) => {
  const file = readSafetensors(join(fixturesDir, 'conv.safetensors'));
  const meta = JSON.parse(readFileSync(join(fixturesDir, 'conv.json'), 'utf8'));
  const fixture = (name) => Float64Array.from(getTensor(file, name).data);
  for (const [name, { N, C, H, W, O, k, stride: s, pad: p, bias }] of Object.entries(meta.cases)) {
    const Ho = convOutSize(H, k, s, p), Wo = convOutSize(W, k, s, p);
    const seeded = (what, n) => seededUniform(meta.seed, `conv.${name}.${what}`, n, 1, 0, 'float64');
    const x = seeded('x', N * C * H * W), w = seeded('w', O * C * k * k), b = bias ? seeded('b', O) : null;
    const dy = seeded('dy', N * O * Ho * Wo);
    const run = (be, dtype) => {
      const cast = (a) => (a && dtype === 'float32' ? Float32Array.from(a) : a);
      const F = dtype === 'float32' ? Float32Array : Float64Array;
      const y = new F(N * O * Ho * Wo), dx = new F(x.length), dw = new F(w.length), db = new F(O);
      const conv = be ? be.conv2d.bind(be) : conv2dForward;
      const back = be ? be.conv2dBackward.bind(be) : conv2dBackward;
      conv(y, cast(x), cast(w), cast(b), N, C, H, W, O, k, k, s, p);
      back(dx, dw, bias ? db : null, cast(dy), cast(x), cast(w), N, C, H, W, O, k, k, s, p);
      return { y, dx, dw, db };
    };
    const check = (who, got, tol) => {
      for (const part of ['y', 'dx', 'dw', ...(bias ? ['db'] : [])]) {
        assertClose(t, `${who} ${name}.${part} vs torch`, got[part], fixture(`${name}.${part}`), tol[part === 'y' ? 'forward' : 'backward']);
      }
    };
    check('reference f64', run(null, 'float64'), { forward: CONV_TOL.float64, backward: CONV_TOL.float64 });
    for (const [label, be] of BACKENDS) {
      if (typeof be !== 'string') check(label, run(be, 'float32'), CONV_TOL);
    }
  }
  t.end();
});

// A wasm backend of `options`, or null after skipping the test, saying why, where wasm cannot run here.
function wasmOrSkip(t, options) {
  const be = createWasmBackend(options);
  const why = be.unavailable();
  if (!why) return be;
  t.skip(`skipped: wasm cannot run here: ${why}`);
  t.end();
  return null;
}

test('conv on wasm: bit-identical for 1 and 2 threads, run to run, in its own memory, with a prepared weight', (t) => {
  const one = wasmOrSkip(t, { threads: 1 });
  if (!one) return;
  const two = createWasmBackend({ threads: 2 });
  // big enough that the GEMMs, im2col and col2im are split between the threads; dx both ways (C·k² ≤ Ho·Wo or not)
  for (const shape of [[1, 16, 56, 56, 16, 3, 1, 1, true], [2, 32, 28, 28, 64, 3, 1, 1, false], [2, 64, 14, 14, 128, 1, 1, 0, true],
    [1, 3, 64, 64, 16, 3, 2, 1, false], [1, 256, 7, 7, 128, 3, 1, 1, true]]) {
    const [N, C, H, W, O, k, s, p, bias] = shape;
    const Ho = convOutSize(H, k, s, p), Wo = convOutSize(W, k, s, p);
    const x = f32(rand(N * C * H * W)), w = f32(rand(O * C * k * k)), b = bias ? f32(rand(O)) : null;
    const dy = f32(rand(N * O * Ho * Wo)), dx0 = f32(rand(x.length)), dw0 = f32(rand(w.length));
    const run = (be, own = (a) => a, prepared = false) => {
      const ww = own(w);
      if (prepared) be.prepare(ww, O, C * k * k);
      const y = own(new Float32Array(N * O * Ho * Wo)), dx = own(dx0.slice()), dw = own(dw0.slice());
      be.conv2d(y, own(x), ww, b && own(b), N, C, H, W, O, k, k, s, p);
      be.conv2dBackward(dx, dw, null, own(dy), own(x), ww, N, C, H, W, O, k, k, s, p);
      return { y: y.slice(), dx: dx.slice(), dw: dw.slice() };
    };
    const r1 = run(one), r2 = run(two), again = run(two);
    const inMemory = run(two, (a) => { const m = two.alloc(a.length); m.set(a); return m; });
    const prepared = run(two, (a) => a, true);
    for (const part of ['y', 'dx', 'dw']) {
      t.ok(sameBits(r1[part], r2[part]), `conv ${tag(shape)} ${part}: 1 thread = 2 threads, bit for bit`);
      t.ok(sameBits(r2[part], again[part]), `conv ${tag(shape)} ${part}: run twice, same bits`);
      t.ok(sameBits(r2[part], inMemory[part]), `conv ${tag(shape)} ${part}: operands in the backend's memory, same bits`);
      t.ok(sameBits(r2[part], prepared[part]), `conv ${tag(shape)} ${part}: a prepared weight, same bits`);
    }
  }
  one.close();
  two.close();
  t.end();
});

test('conv on wasm: im2col inside the GEMM (the default) = im2col of the whole image first, bit for bit', (t) => {
  const fused = wasmOrSkip(t, { threads: 2 });
  if (!fused) return;
  const whole = createWasmBackend({ threads: 2, conv: 'im2col' }), one = createWasmBackend({ threads: 1 });
  // every path of im2col_panels: stride-1 panels inside a row (plain, masked at the padding, rows of padding),
  // across rows (gathered), stride 2, padding 0-3; 1×1 (packed); chunks of 8 to 512 positions, blocks of output
  // channels smaller than O (a 7 × 7 map); O not a multiple of 4 or 32
  for (const shape of [[1, 64, 56, 56, 64, 3, 1, 1, false], [2, 5, 30, 29, 9, 3, 1, 1, true], [1, 16, 28, 31, 33, 3, 1, 1, true],
    [1, 3, 40, 33, 8, 3, 1, 0, false], [1, 2, 9, 30, 5, 5, 1, 2, true], [3, 7, 12, 40, 6, 3, 1, 2, true], [1, 32, 40, 40, 32, 3, 1, 1, false],
    [2, 3, 17, 15, 8, 3, 2, 1, true], [1, 3, 40, 38, 6, 7, 2, 3, true], [1, 512, 7, 7, 40, 3, 1, 1, false], [3, 8, 5, 7, 12, 1, 2, 0, true],
    [2, 24, 8, 8, 20, 1, 1, 0, true], [1, 64, 56, 56, 72, 1, 1, 0, false], [1, 256, 7, 7, 200, 3, 1, 1, true], [1, 3, 120, 100, 8, 3, 2, 1, false]]) {
    const [N, C, H, W, O, k, s, p, bias] = shape;
    const Ho = convOutSize(H, k, s, p), Wo = convOutSize(W, k, s, p);
    const x = f32(rand(N * C * H * W)), w = f32(rand(O * C * k * k)), b = bias ? f32(rand(O)) : null;
    const run = (be) => {
      const y = new Float32Array(N * O * Ho * Wo).fill(NaN);
      be.conv2d(y, x, w, b, N, C, H, W, O, k, k, s, p);
      return y;
    };
    const a = run(whole), f = run(fused);
    t.ok(sameBits(a, f), `conv ${tag(shape)}: fused im2col = whole im2col, bit for bit`);
    t.ok(sameBits(f, run(one)), `conv ${tag(shape)}: fused on 1 thread = on 2`);
  }
  t.throws(() => createWasmBackend({ conv: 'implicit' }), /conv is implicit, expected 'fused' or 'im2col'/, 'an unknown conv option is refused by name');
  for (const be of [fused, whole, one]) be.close();
  t.end();
});

test('conv on wasm: a 1×1 convolution is the Linear GEMM on xᵀ, bit for bit (each output the same float32 sum)', (t) => {
  const be = wasmOrSkip(t, { threads: 2 });
  if (!be) return;
  for (const [C, O, P] of [[1024, 40, 49], [37, 13, 30], [768, 64, 196]]) {
    const x = f32(rand(C * P)), w = f32(rand(O * C)), b = f32(rand(O));
    const y = new Float32Array(O * P);
    be.conv2d(y, x, w, b, 1, C, 1, P, O, 1, 1, 1, 0);
    const xt = new Float32Array(P * C);
    for (let c = 0; c < C; c++) for (let q = 0; q < P; q++) xt[q * C + c] = x[c * P + q];
    const out = new Float32Array(P * O);
    be.matmul(out, xt, w, b, P, C, O);
    const yt = new Float32Array(P * O);
    for (let o = 0; o < O; o++) for (let q = 0; q < P; q++) yt[q * O + o] = y[o * P + q];
    t.ok(sameBits(yt, out), `conv 1×1 ${C}->${O} over ${P} positions = matmul ${P}x${C}x${O}, bit for bit`);
  }
  be.close();
  t.end();
});

test('conv kernels: close the backends', (t) => {
  for (const [, be] of BACKENDS) if (typeof be !== 'string') be.close();
  t.end();
});
