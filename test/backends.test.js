// test/backends.test.js: every compute backend against the reference `ts` backend (issue 6).
//  1. kernels: matmul and its backward, the attention core and its backward (causal or not, all queries or
//     the class token alone), layer norm and quick_gelu where a backend has them — on odd sizes that reach
//     every edge path, with a tolerance per op relative to the max |ts value| (TOL below);
//  2. determinism: the wasm backend on 1 and 2 threads, and twice in a row, gives the same bits; arrays in
//     its own memory (alloc) and prepared weights give the same bits as plain arrays;
//  3. whole models: the tiny CLIP fixtures (every vision stage, score gradients, weight gradients) on every
//     backend, and the seeded ViT-B/16 fixture on wasm, at the CLIP issue's float32 tolerances;
//  4. memory: a model's parameters and a forward's arrays live in the wasm backend's memory (same bits as
//     plain arrays), and releaseRun / encodeImages / encodeTexts give every array back.
// A backend that cannot run here (gpu.js headless-gl without the `gl` addon) is skipped, saying why.
import test from 'tape';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tsBackend } from '../dist/kernels/reference.js';
import { chooseBackend } from '../dist/kernels/choose.js';
import { createWasmBackend, enableRelaxedSimd } from '../dist/kernels/wasm/backend.js';
import { createGpuBackend, gpuModeUnavailable } from '../dist/kernels/gpujs/backend.js';
import { layernormForward } from '../dist/nn/layernorm.js';
import { residualForward } from '../dist/nn/residual.js';
import { activationForward, activationBackward } from '../dist/nn/gelu.js';
import { readSafetensors } from '../dist/io/safetensors.js';
import { parseHfConfig } from '../dist/clip/config.js';
import { loadClip } from '../dist/clip/load.js';
import { createClip, encodeImages, encodeTexts, seededClip } from '../dist/clip/model.js';
import { visionForward, visionBackward, getActivation, releaseRun } from '../dist/clip/vision.js';
import { allocBlockActs, blockForward } from '../dist/clip/block.js';
import { allocParams, param } from '../dist/clip/weights.js';
import { mulberry32 } from '../dist/tensor/rng.js';
import { tensor } from '../dist/tensor/tensor.js';
import { DecomcamError } from '../dist/errors.js';
import { assertClose, fixturesDir } from './helpers/compare.js';
import { backendsUnderTest } from './helpers/backends.js';
import { TOL as CLIP_TOL } from './clip_tolerances.js';
import { KERNEL_TOL as TOL } from './tolerances.js'; // kernels vs ts, relative to the op's max |ts value|


// both wasm builds are tested where the engine can have the fused one (Node 20: after its V8 flag, an opt-in)
enableRelaxedSimd();

const rng = mulberry32(20240611);
const rand = (n, scale = 1) => Float32Array.from({ length: n }, () => scale * (2 * rng() - 1));
const sameBits = (a, b) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

// A test that needs the wasm backend: where it cannot run here, says why, ends the test and returns true.
function skippedWithout(be, t) {
  const why = be.unavailable();
  if (!why) return false;
  t.skip(`skipped: wasm cannot run here: ${why}`);
  t.end();
  return true;
}

const BACKENDS = backendsUnderTest();

// [M, K, N]: 1×1×1; odd sizes below one tile; rows and columns past a 4×8 tile; a ViT-like shape; K = 512 and
// 768, which the wasm backend runs on its copies of the tile with the row stride built in (N = 42: the last
// 2 rows on the generic tile)
const MATMUL_SHAPES = [[1, 1, 1], [5, 3, 7], [13, 17, 19], [37, 64, 40], [197, 96, 72], [11, 512, 42], [21, 768, 36]];
// [B, N, nq, H, hd, causal]
const ATTN_SHAPES = [[2, 7, 7, 2, 4, false], [2, 9, 9, 3, 8, true], [1, 17, 1, 2, 8, false], [2, 50, 50, 4, 16, false]];

function runMatmul(be, M, K, N, inp, w, b, dout, prepare = false) {
  if (prepare) be.prepare(w, N, K);
  const out = new Float32Array(M * N);
  be.matmul(out, inp, w, b, M, K, N);
  const dinp = new Float32Array(M * K).fill(0.25), dw = new Float32Array(N * K).fill(-0.5), db = new Float32Array(N).fill(1);
  be.matmulBackward(dinp, dw, db, dout, inp, w, M, K, N); // adds into non-zero buffers: += is checked too
  return { out, dinp, dw, db };
}

function runAttention(be, [B, N, nq, H, hd, causal], qkv, dout, dqkv0) {
  const D = H * hd;
  const out = new Float32Array(B * nq * D), att = new Float32Array(B * H * nq * N);
  be.attention(out, att, qkv, B, N, nq, H, hd, causal);
  const dqkv = dqkv0.slice(), datt = new Float32Array(att.length);
  be.attentionBackward(dqkv, datt, dout, att, qkv, B, N, nq, H, hd, causal);
  return { out, att, dqkv, datt };
}

for (const [label, be] of BACKENDS) {
  test(`backend ${label}: kernels vs ts`, (t) => {
    if (typeof be === 'string') {
      t.skip(`skipped: ${label} cannot run here: ${be}`);
      t.end();
      return;
    }
    for (const [M, K, N] of MATMUL_SHAPES) {
      const inp = rand(M * K), w = rand(N * K), b = rand(N), dout = rand(M * N);
      const ref = runMatmul(tsBackend, M, K, N, inp, w, b, dout);
      const ours = runMatmul(be, M, K, N, inp, w, b, dout);
      const tag = `${M}x${K}x${N}`;
      assertClose(t, `matmul ${tag}`, ours.out, ref.out, TOL.matmul);
      assertClose(t, `matmul ${tag} dinp`, ours.dinp, ref.dinp, TOL.matmulBackward);
      assertClose(t, `matmul ${tag} dw`, ours.dw, ref.dw, TOL.matmulBackward);
      assertClose(t, `matmul ${tag} db`, ours.db, ref.db, TOL.matmulBackward);
      const nobias = new Float32Array(M * N);
      be.matmul(nobias, inp, w, null, M, K, N);
      const refNobias = new Float32Array(M * N);
      tsBackend.matmul(refNobias, inp, w, null, M, K, N);
      assertClose(t, `matmul ${tag} (no bias)`, nobias, refNobias, TOL.matmul);
    }
    for (const shape of ATTN_SHAPES) {
      const [B, N, nq, H, hd] = shape;
      const D = H * hd;
      const qkv = rand(B * N * 3 * D, 2), dout = rand(B * nq * D), dqkv0 = rand(B * N * 3 * D);
      const ref = runAttention(tsBackend, shape, qkv, dout, dqkv0);
      const ours = runAttention(be, shape, qkv, dout, dqkv0);
      const tag = shape.join(',');
      assertClose(t, `attention [${tag}] out`, ours.out, ref.out, TOL.attention);
      assertClose(t, `attention [${tag}] att`, ours.att, ref.att, TOL.attention);
      assertClose(t, `attention [${tag}] dqkv`, ours.dqkv, ref.dqkv, TOL.attentionBackward);
      assertClose(t, `attention [${tag}] datt (ds)`, ours.datt, ref.datt, TOL.attentionBackward);
    }
    if (be.layernorm) {
      for (const [N, C] of [[3, 8], [5, 20], [11, 768], [2, 6]]) {
        const inp = rand(N * C, 3).map((x, i) => x + (i % C === 0 ? 40 : 0)), w = rand(C), b = rand(C);
        const run = (f) => {
          const out = new Float32Array(N * C), mean = new Float32Array(N), rstd = new Float32Array(N);
          f(out, mean, rstd, inp, w, b, N, C, 1e-5);
          return { out, mean, rstd };
        };
        const ref = run(layernormForward), ours = run(be.layernorm.bind(be));
        assertClose(t, `layernorm ${N}x${C} out`, ours.out, ref.out, TOL.layernorm);
        assertClose(t, `layernorm ${N}x${C} mean`, ours.mean, ref.mean, TOL.layernorm);
        assertClose(t, `layernorm ${N}x${C} rstd`, ours.rstd, ref.rstd, TOL.layernorm);
      }
    }
    if (be.residual) {
      // the same float32 sums as the reference: bit for bit (the last two shapes run on both threads)
      for (const [B, Nx, Ny, C] of [[2, 5, 5, 8], [3, 7, 1, 6], [1, 4, 3, 13], [10, 197, 1, 768], [10, 197, 197, 768]]) {
        const x = rand(B * Nx * C, 5), y = rand(B * Ny * C, 6);
        const ref = new Float32Array(B * Ny * C), ours = new Float32Array(B * Ny * C);
        residualForward(ref, x, y, B, Nx, Ny, C);
        be.residual(ours, x, y, B, Nx, Ny, C);
        t.ok(sameBits(ours, ref), `residual [${B},${Nx},${Ny},${C}]: the reference's sums, bit for bit`);
      }
    }
    if (be.activation) {
      for (const n of [1, 7, 4099]) {
        const inp = rand(n, 12), dout = rand(n), d0 = rand(n);
        const ref = new Float32Array(n), ours = new Float32Array(n);
        activationForward('quick_gelu', ref, inp, n);
        be.activation('quick_gelu', ours, inp, n);
        assertClose(t, `quick_gelu ${n}`, ours, ref, TOL.quickGelu);
        const dref = d0.slice(), dours = d0.slice();
        activationBackward('quick_gelu', dref, dout, inp, n);
        be.activationBackward('quick_gelu', dours, dout, inp, n);
        assertClose(t, `quick_gelu ${n} backward`, dours, dref, TOL.quickGelu);
      }
    }
    // float64 (the oracle mode) runs the reference kernels: identical to ts
    const [M, K, N] = [6, 10, 9];
    const inp = Float64Array.from(rand(M * K)), w = Float64Array.from(rand(N * K));
    const a = new Float64Array(M * N), r = new Float64Array(M * N);
    be.matmul(a, inp, w, null, M, K, N);
    tsBackend.matmul(r, inp, w, null, M, K, N);
    t.ok(sameBits(a, r), 'float64 matmul: the reference kernels, bit for bit');
    t.end();
  });
}

for (const fma of ['auto', false]) {
test(`backend wasm (fma ${fma}): bit-identical for 1 and 2 threads, run to run, in its own memory, with prepared weights`, (t) => {
  const one = createWasmBackend({ threads: 1, fma });
  if (skippedWithout(one, t)) return;
  t.comment(one.describe());
  const two = createWasmBackend({ threads: 2, fma });
  for (const [M, K, N] of [[37, 512, 70], [9, 768, 44]]) { // the fixed-stride tiles, and a last group of 2 rows
    const inp = rand(M * K), w = rand(N * K), b = rand(N), dout = rand(M * N);
    const r1 = runMatmul(one, M, K, N, inp, w, b, dout), r2 = runMatmul(two, M, K, N, inp, w, b, dout);
    t.ok(sameBits(r1.out, r2.out), `matmul out [${M},${K},${N}]: 1 thread = 2 threads, bit for bit`);
  }
  const [M, K, N] = [203, 96, 136];
  const inp = rand(M * K), w = rand(N * K), b = rand(N), dout = rand(M * N);
  const r1 = runMatmul(one, M, K, N, inp, w, b, dout);
  const r2 = runMatmul(two, M, K, N, inp, w, b, dout);
  const r2again = runMatmul(two, M, K, N, inp, w, b, dout);
  for (const k of ['out', 'dinp', 'dw', 'db']) {
    t.ok(sameBits(r1[k], r2[k]), `matmul ${k}: 1 thread = 2 threads, bit for bit`);
    t.ok(sameBits(r2[k], r2again[k]), `matmul ${k}: run twice, same bits`);
  }
  // arrays inside the backend's memory, and a prepared weight: no copies, same bits
  const own = (a) => { const x = two.alloc(a.length); x.set(a); return x; };
  const wp = own(w);
  const r3 = runMatmul(two, M, K, N, own(inp), wp, own(b), own(dout), true);
  for (const k of ['out', 'dinp', 'dw', 'db']) t.ok(sameBits(r1[k], r3[k]), `matmul ${k}: alloc'd arrays and prepare(w), same bits`);
  // prepare copies a weight from outside the memory once: that copy is used until prepare is called again
  const wf = w.slice();
  two.prepare(wf, N, K);
  wf.fill(0);
  const stale = new Float32Array(M * N);
  two.matmul(stale, inp, wf, b, M, K, N);
  t.ok(sameBits(stale, r1.out), 'a prepared weight is read from its copy');
  two.prepare(wf, N, K);
  two.matmul(stale, inp, wf, b, M, K, N);
  t.ok(stale.every((x, i) => x === b[i % N]), 'prepare again: the new (zero) weight gives out = bias');
  for (const shape of ATTN_SHAPES.concat([[3, 197, 197, 12, 64, false]])) {
    const [B, Nt, nq, H, hd] = shape;
    const D = H * hd;
    const qkv = rand(B * Nt * 3 * D, 2), g = rand(B * nq * D), d0 = rand(B * Nt * 3 * D);
    const a1 = runAttention(one, shape, qkv, g, d0), a2 = runAttention(two, shape, qkv, g, d0);
    const same = ['out', 'att', 'dqkv', 'datt'].every((k) => sameBits(a1[k], a2[k]));
    t.ok(same, `attention [${shape.join(',')}]: 1 thread = 2 threads, bit for bit`);
  }
  const n = 50001, x = rand(n, 8), y1 = new Float32Array(n), y2 = new Float32Array(n);
  one.activation('quick_gelu', y1, x, n);
  two.activation('quick_gelu', y2, x, n);
  t.ok(sameBits(y1, y2), 'quick_gelu: 1 thread = 2 threads, bit for bit');
  const [Nl, C] = [301, 768], xl = rand(Nl * C, 4), wl = rand(C), bl = rand(C);
  const ln = (be) => { const o = new Float32Array(Nl * C); be.layernorm(o, new Float32Array(Nl), new Float32Array(Nl), xl, wl, bl, Nl, C, 1e-5); return o; };
  t.ok(sameBits(ln(one), ln(two)), 'layernorm: 1 thread = 2 threads, bit for bit');
  t.end();
});
}

test('backends: choosing by name, auto, and the errors', (t) => {
  t.throws(() => chooseBackend('cuda'), (e) => e instanceof DecomcamError && /ts, wasm, gpu/.test(e.message),
    'an unknown backend name: the error lists the backends');
  t.throws(() => createWasmBackend({ threads: 0 }), DecomcamError, 'threads 0: a usage error');
  t.throws(() => createWasmBackend({ fma: 'yes' }), /fma is yes, expected true, false or 'auto'/, 'fma "yes": a usage error');
  t.throws(() => createGpuBackend({ mode: 'webgpu' }), /headlessgl, webasm, cpu/, 'gpu mode webgpu: the error lists the modes');
  const headless = gpuModeUnavailable('headlessgl');
  if (headless) {
    t.throws(() => createGpuBackend({ mode: 'headlessgl' }).matmul(new Float32Array(1), new Float32Array(1), new Float32Array(1), null, 1, 1, 1),
      /not available/, `gpu headlessgl here: a clear error (${headless})`);
  }
  // auto: the backend it chose is the fastest of the rates its note lists, and it matches the reference
  const auto = chooseBackend('auto');
  const rates = /matmul: ([^)]*)\)/.exec(auto.note)?.[1].split(', ').map((r) => r.split(' ')) ?? [];
  const fastest = rates.reduce((a, r) => (Number(r[1]) > Number(a[1]) ? r : a), ['none', '-1'])[0];
  t.equal(auto.backend.name, fastest, `auto chose the fastest it measured (${auto.note})`);
  t.ok(rates.some((r) => r[0] === 'ts'), 'auto measured the reference too');
  const [M, K, N] = [13, 17, 19], inp = rand(M * K), w = rand(N * K), out = new Float32Array(M * N), ref = new Float32Array(M * N);
  auto.backend.matmul(out, inp, w, null, M, K, N);
  tsBackend.matmul(ref, inp, w, null, M, K, N);
  assertClose(t, `auto's ${auto.backend.name} matmul vs ts`, out, ref, TOL.matmul);
  if (auto.backend.close) {
    auto.backend.close();
    t.throws(() => auto.backend.matmul(out, inp, w, null, M, K, N), /was closed/, `a closed ${auto.backend.name} backend says so`);
  }
  t.end();
});

// ---- whole models ----

function fixture(name) {
  const file = readSafetensors(join(fixturesDir, `${name}.safetensors`));
  const meta = JSON.parse(readFileSync(join(fixturesDir, `${name}.json`), 'utf8'));
  const get = (n) => tensor(file.tensors.get(n).data, file.tensors.get(n).shape);
  return { get, meta, names: [...file.tensors.keys()] };
}

for (const [label, be] of BACKENDS) {
  test(`backend ${label}: the tiny CLIP (every vision stage, score and weight gradients) vs PyTorch`, (t) => {
    if (typeof be === 'string') {
      t.skip(`skipped: ${label} cannot run here: ${be}`);
      t.end();
      return;
    }
    const fx = fixture('clip_tiny_f32');
    const model = loadClip(join(fixturesDir, 'tiny_clip_hf'), { dtype: 'float32', backend: be });
    const run = visionForward(model, fx.get('pixels'));
    for (const name of fx.names.filter((n) => n.startsWith('vision.'))) {
      assertClose(t, name, getActivation(run, name).data, fx.get(name).data, CLIP_TOL.float32.forward);
    }
    const dEmb = fx.get('score.dembeds');
    for (const name of fx.names.filter((n) => n.startsWith('grad.'))) {
      const layer = name.slice('grad.'.length);
      assertClose(t, name, visionBackward(model, run, dEmb, layer).data, fx.get(name).data, CLIP_TOL.float32.grad);
    }
    const wg = allocParams(model.config, 'float32');
    visionBackward(model, run, dEmb, 'vision.pixels', { weightGrads: wg });
    for (const name of fx.names.filter((n) => n.startsWith('wgrad.'))) {
      const hf = name.slice('wgrad.'.length);
      const spec = wg.specs.find((s) => s.hf.includes(hf));
      const n = spec.hf.length === 1 ? param(wg, spec.name).length : param(wg, spec.name).length / 3;
      const i = spec.hf.indexOf(hf);
      assertClose(t, name, param(wg, spec.name).subarray(i * n, (i + 1) * n), fx.get(name).data, CLIP_TOL.float32.weightGrad);
    }
    t.end();
  });
}

test('backend wasm: a model in its memory — same bits as plain arrays, every array of a forward given back', (t) => {
  const be = createWasmBackend({ threads: 2 });
  if (skippedWithout(be, t)) return;
  // V8 gives every shared memory of the process a new buffer object whenever any one of them grows: arrays
  // from alloc() before and after must both be known as the backend's own (prepare then copies nothing)
  const w1 = be.alloc(64 * 32);
  createWasmBackend({ threads: 1 }).alloc(1 << 22); // another memory grows
  const w2 = be.alloc(64 * 32);
  const inUse = be.memoryStats().inUse;
  be.prepare(w1, 64, 32);
  be.prepare(w2, 64, 32);
  t.equal(be.memoryStats().inUse, inUse, "prepare of alloc'd weights copies nothing, also after another memory grew");
  be.free(w1);
  be.free(w2);

  const fx = fixture('clip_tiny_f32');
  const model = loadClip(join(fixturesDir, 'tiny_clip_hf'), { dtype: 'float32', backend: be });
  const plainParams = allocParams(model.config, 'float32');
  plainParams.data.set(model.params.data);
  const plain = createClip(model.config, plainParams, { backend: be }); // same weights, outside the memory
  const layer = 'vision.blocks.2.ln_1'; // the last block's: the blocks before share one scratch set
  const pass = (m) => {
    const run = visionForward(m, fx.get('pixels'), { keep: [layer] });
    const grad = visionBackward(m, run, fx.get('score.dembeds'), layer);
    return { run, grad };
  };
  releaseRun(pass(model).run); // warm-up: the worker threads take their slots in the memory once
  const loaded = be.memoryStats().inUse;
  const [a, b] = [pass(model), pass(plain)];
  t.ok(sameBits(a.run.embeddings.data, b.run.embeddings.data), 'embeddings: parameters in the memory = in plain arrays, bit for bit');
  t.ok(sameBits(a.grad.data, b.grad.data), `gradient at ${layer}: parameters in the memory = in plain arrays, bit for bit`);
  assertClose(t, `grad.${layer} (parameters in the memory)`, a.grad.data, fx.get(`grad.${layer}`).data, CLIP_TOL.float32.grad);
  releaseRun(a.run);
  releaseRun(b.run);
  t.equal(be.memoryStats().inUse, loaded, 'releaseRun gives back every array of both forwards (backward scratch included)');
  t.throws(() => getActivation(a.run, layer), /released/, 'a released run cannot be read…');
  t.throws(() => visionBackward(model, a.run, fx.get('score.dembeds'), layer), /released/, '…nor differentiated');
  const emb = encodeImages(model, fx.get('pixels'));
  assertClose(t, 'encodeImages (parameters in the memory)', emb.data, fx.get('vision.embeds').data, CLIP_TOL.float32.forward);
  encodeTexts(model, ['a photo of a cat']);
  t.equal(be.memoryStats().inUse, loaded, 'encodeImages and encodeTexts give their arrays back');
  // close: the workers stop and the memory goes; using the backend afterwards is a clear error
  be.close();
  t.throws(() => encodeImages(model, fx.get('pixels')), /was closed/, 'a closed backend: a clear error');
  t.end();
});

// gpu.js at full width: block 6 of the seeded ViT-B/16 (197 tokens, width 768, MLP 3072, 12 heads), from the
// PyTorch fixture's output of block 5, against the ts kernels on the same input. A whole forward would take
// gpu.js ~30 s on this CPU; one block takes ~3 s (webasm) and ~10 s (headless-gl on a software renderer).
test('backend gpu: a full-width block of the seeded ViT-B/16 vs ts, in each gpu.js mode that runs here', (t) => {
  const fx = fixture('clip_b16');
  const config = parseHfConfig(fx.meta.config, 'clip_b16.json');
  const model = seededClip(config, fx.meta.model_seed, 'float32', tsBackend);
  const v = config.vision;
  const input = fx.get('vision.blocks.5').data;
  const N = input.length / v.width;
  const dims = { B: 1, N, nq: N, D: v.width, H: v.heads, F: v.mlpWidth, causal: false, act: v.act, eps: v.eps };
  const run = (be) => {
    const a = allocBlockActs(dims, 'float32', Float32Array.from(input), null);
    blockForward(be, a, model.vision.blocks[6], dims);
    return a;
  };
  const ref = run(tsBackend);
  for (const mode of ['webasm', 'headlessgl']) {
    const why = gpuModeUnavailable(mode);
    if (why) {
      t.skip(`gpu.js ${mode}: skipped: ${why}`);
      continue;
    }
    const ours = run(createGpuBackend({ mode }));
    for (const k of ['qkv', 'att', 'ctx', 'attn', 'fc', 'mlp', 'out']) {
      assertClose(t, `gpu.js ${mode}: block 6 ${k}`, ours[k], ref[k], CLIP_TOL.float32.forward);
    }
  }
  t.end();
});

test('backend wasm: the seeded ViT-B/16 vs PyTorch, and 1 thread = 2 threads on it', (t) => {
  const one = createWasmBackend({ threads: 1 });
  if (skippedWithout(one, t)) return;
  const fx = fixture('clip_b16');
  const config = parseHfConfig(fx.meta.config, 'clip_b16.json');
  const keep = ['vision.blocks.5', 'vision.blocks.11.ln_1'];
  const results = [];
  for (const be of [createWasmBackend({ threads: 2 }), one]) {
    const model = seededClip(config, fx.meta.model_seed, 'float32', be); // its ~600 MB live in be's memory
    const run = visionForward(model, fx.get('pixels'), { keep });
    const grad = visionBackward(model, run, fx.get('score.dembeds'), 'vision.blocks.11.ln_1');
    const acts = Object.fromEntries(['vision.blocks.5', 'vision.blocks.11.ln_1'].map((n) => [n, getActivation(run, n).data.slice()]));
    results.push({ acts, embeds: run.embeddings.data, grad });
    be.close(); // the next model's memory need not sit beside this one's
  }
  const [r2, r1] = results;
  for (const name of ['vision.blocks.5', 'vision.blocks.11.ln_1']) {
    assertClose(t, `${name} (2 threads)`, r2.acts[name], fx.get(name).data, CLIP_TOL.float32.forward);
  }
  assertClose(t, 'vision.embeds (2 threads)', r2.embeds, fx.get('vision.embeds').data, CLIP_TOL.float32.forward);
  assertClose(t, 'grad.vision.blocks.11.ln_1 (2 threads)', r2.grad.data, fx.get('grad.vision.blocks.11.ln_1').data, CLIP_TOL.float32.grad);
  t.ok(sameBits(r1.embeds, r2.embeds), 'image embedding: 1 thread = 2 threads, bit for bit');
  t.ok(sameBits(r1.grad.data, r2.grad.data), 'gradient at blocks.11.ln_1: 1 thread = 2 threads, bit for bit');
  t.end();
});
