// test/resnet_ops.test.js: the ResNet tower's layers alone — BatchNorm2d (eval), ReLU, AvgPool2d, the attention
// pool, and conv → BN → ReLU → pool → residual as a whole tower — against torch autograd (reference/
// resnet_fixtures.py ops: openai/CLIP's AttentionPool2d, torch.nn layers; (out · dout).sum() backward) in float64
// and float32, and every hand-written backward against central finite differences in float64.
// Tolerances: test/tolerances.js RESNET_TOL.
import test from 'tape';
import { join } from 'node:path';
import { readSafetensors } from '../dist/io/safetensors.js';
import { batchnormBackward, batchnormForward } from '../dist/nn/batchnorm.js';
import { avgpoolBackward, avgpoolForward } from '../dist/nn/avgpool.js';
import { reluBackward, reluForward } from '../dist/nn/relu.js';
import { attnpoolActSizes, attnpoolBackward, attnpoolForward } from '../dist/nn/attnpool.js';
import { tsBackend } from '../dist/kernels/reference.js';
import { resnetVisionConfig } from '../dist/clip/config.js';
import { seededClip } from '../dist/clip/model.js';
import { visionBackward, visionForward } from '../dist/clip/vision.js';
import { allocParams, param } from '../dist/clip/weights.js';
import { seededUniform } from '../dist/tensor/rng.js';
import { assertClose, fixturesDir } from './helpers/compare.js';
import { RESNET_TOL } from './tolerances.js';

const fx = readSafetensors(join(fixturesDir, 'resnet_ops.safetensors')).tensors;
const ref = (n) => {
  const t = fx.get(n);
  if (!t) throw new Error(`fixture resnet_ops has no tensor "${n}"`);
  return t.data;
};
const H_STEP = 1e-6;
const dot = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);
// numeric d(loss)/d(x[i]) for the given indices (all by default), by (loss(x + h) − loss(x − h)) / 2h
function numericGrad(loss, x, idx = null) {
  const at = idx ?? Array.from(x, (_, i) => i);
  const g = new Float64Array(at.length);
  at.forEach((i, j) => {
    const keep = x[i];
    x[i] = keep + H_STEP; const up = loss();
    x[i] = keep - H_STEP; const down = loss();
    x[i] = keep;
    g[j] = (up - down) / (2 * H_STEP);
  });
  return g;
}
const rand = (name, n, scale = 1, offset = 0) => seededUniform(99, name, n, scale, offset, 'float64');

for (const dt of ['f64', 'f32']) {
  const tol = RESNET_TOL[dt === 'f64' ? 'float64' : 'float32'];
  const arr = (n) => (dt === 'f64' ? new Float64Array(n) : new Float32Array(n));
  const get = (n) => (dt === 'f64' ? Float64Array.from(ref(`${dt}.${n}`)) : Float32Array.from(ref(`${dt}.${n}`)));

  test(`resnet ops ${dt}: BatchNorm2d (eval) forward, dx, dweight, dbias vs torch`, (t) => {
    const [N, C, HW] = [2, 5, 12];
    const x = get('bn.x'), w = get('bn.weight'), b = get('bn.bias'), mean = get('bn.mean'), v = get('bn.var');
    const y = arr(N * C * HW);
    batchnormForward(y, x, w, b, mean, v, N, C, HW, 1e-5);
    assertClose(t, `${dt}.bn.out`, y, ref(`${dt}.bn.out`), tol.forward);
    const dx = arr(N * C * HW), dw = arr(C), db = arr(C);
    batchnormBackward(dx, dw, db, get('bn.dout'), x, w, mean, v, N, C, HW, 1e-5);
    assertClose(t, `${dt}.bn.dx`, dx, ref(`${dt}.bn.dx`), tol.grad);
    assertClose(t, `${dt}.bn.dweight`, dw, ref(`${dt}.bn.dweight`), tol.grad);
    assertClose(t, `${dt}.bn.dbias`, db, ref(`${dt}.bn.dbias`), tol.grad);
    t.end();
  });

  test(`resnet ops ${dt}: AvgPool2d(2) and AvgPool2d(3) on 7×8 (ragged edge) forward and dx vs torch`, (t) => {
    for (const k of [2, 3]) {
      const y = arr(6 * Math.floor(7 / k) * Math.floor(8 / k));
      avgpoolForward(y, get(`pool${k}.x`), 6, 7, 8, k);
      assertClose(t, `${dt}.pool${k}.out`, y, ref(`${dt}.pool${k}.out`), tol.forward);
      const dx = arr(6 * 56);
      avgpoolBackward(dx, get(`pool${k}.dout`), 6, 7, 8, k);
      assertClose(t, `${dt}.pool${k}.dx`, dx, ref(`${dt}.pool${k}.dx`), tol.grad);
    }
    t.end();
  });

  test(`resnet ops ${dt}: ReLU forward and dx (zero inputs get no gradient, as torch) vs torch`, (t) => {
    const y = arr(50);
    reluForward(y, get('relu.x'), 50);
    assertClose(t, `${dt}.relu.out`, y, ref(`${dt}.relu.out`), 0);
    const dx = arr(50);
    reluBackward(dx, get('relu.dout'), y, 50);
    assertClose(t, `${dt}.relu.dx`, dx, ref(`${dt}.relu.dx`), 0);
    t.end();
  });

  test(`resnet ops ${dt}: AttentionPool2d (openai/CLIP's) forward, dx and every weight gradient vs torch`, (t) => {
    const d = { B: 2, HW: 9, C: 16, H: 4, E: 12 };
    const p = {
      pos: get('ap.positional_embedding'), qW: get('ap.q_proj.weight'), qB: get('ap.q_proj.bias'),
      kW: get('ap.k_proj.weight'), kB: get('ap.k_proj.bias'), vW: get('ap.v_proj.weight'), vB: get('ap.v_proj.bias'),
      cW: get('ap.c_proj.weight'), cB: get('ap.c_proj.bias'),
    };
    const [tok, qkv, att, ctx, tmp] = attnpoolActSizes(d).map(arr);
    const a = { tok, qkv, att, ctx, tmp };
    const out = arr(d.B * d.E);
    attnpoolForward(tsBackend, out, a, get('ap.x'), p, d);
    assertClose(t, `${dt}.ap.out`, out, ref(`${dt}.ap.out`), tol.forward);
    const N = 1 + d.HW;
    const wg = Object.fromEntries(Object.entries(p).map(([k, v]) => [k, arr(v.length)]));
    const dx = arr(d.B * d.C * d.HW);
    attnpoolBackward(tsBackend, dx, { dctx: arr(d.B * d.C), dqkv: arr(d.B * N * 3 * d.C), dtok: arr(d.B * N * d.C), datt: arr(d.B * d.H * N) },
      get('ap.dout'), a, p, d, wg);
    assertClose(t, `${dt}.ap.dx`, dx, ref(`${dt}.ap.dx`), tol.grad);
    const names = { pos: 'positional_embedding', qW: 'q_proj.weight', qB: 'q_proj.bias', kW: 'k_proj.weight', kB: 'k_proj.bias',
      vW: 'v_proj.weight', vB: 'v_proj.bias', cW: 'c_proj.weight', cB: 'c_proj.bias' };
    // k_proj.bias's gradient is 0 exactly (softmax ignores a shift shared by every key): both sides are rounding
    // noise, compared against a floor of 1 (absolutely)
    for (const [k, n] of Object.entries(names)) {
      assertClose(t, `${dt}.ap.d.${n}`, wg[k], ref(`${dt}.ap.d.${n}`), tol.grad, k === 'kB' ? 1 : 0);
    }
    t.end();
  });
}

test('resnet ops vs finite differences (float64): BatchNorm2d, AvgPool2d, ReLU, attention pool', (t) => {
  const fd = RESNET_TOL.fd;
  // BatchNorm2d
  {
    const [N, C, HW] = [2, 3, 5];
    const x = rand('bn.x', N * C * HW, 2), w = rand('bn.w', C, 0.5, 1), b = rand('bn.b', C), m = rand('bn.m', C), v = rand('bn.v', C, 0.5, 1);
    const dout = rand('bn.dout', N * C * HW);
    const loss = () => { const y = new Float64Array(N * C * HW); batchnormForward(y, x, w, b, m, v, N, C, HW, 1e-5); return dot(y, dout); };
    const dx = new Float64Array(x.length), dw = new Float64Array(C), db = new Float64Array(C);
    batchnormBackward(dx, dw, db, dout, x, w, m, v, N, C, HW, 1e-5);
    assertClose(t, 'fd batchnorm.dx', dx, numericGrad(loss, x), fd);
    assertClose(t, 'fd batchnorm.dw', dw, numericGrad(loss, w), fd);
    assertClose(t, 'fd batchnorm.db', db, numericGrad(loss, b), fd);
  }
  // AvgPool2d(2) on 5×7
  {
    const x = rand('pool.x', 2 * 35, 2), dout = rand('pool.dout', 2 * 6);
    const loss = () => { const y = new Float64Array(12); avgpoolForward(y, x, 2, 5, 7, 2); return dot(y, dout); };
    const dx = new Float64Array(x.length);
    avgpoolBackward(dx, dout, 2, 5, 7, 2);
    assertClose(t, 'fd avgpool.dx', dx, numericGrad(loss, x), fd);
  }
  // ReLU (inputs away from the kink)
  {
    const x = rand('relu.x', 40, 2).map((v) => (Math.abs(v) < 1e-3 ? 0.5 : v)), dout = rand('relu.dout', 40);
    const loss = () => { const y = new Float64Array(40); reluForward(y, x, 40); return dot(y, dout); };
    const y = new Float64Array(40);
    reluForward(y, x, 40);
    const dx = new Float64Array(40);
    reluBackward(dx, dout, y, 40);
    assertClose(t, 'fd relu.dx', dx, numericGrad(loss, x), fd);
  }
  // attention pool: dx and every parameter
  {
    const d = { B: 2, HW: 4, C: 8, H: 2, E: 6 };
    const N = 1 + d.HW;
    const p = {
      pos: rand('ap.pos', N * d.C, 0.5), qW: rand('ap.qW', 64, 0.5), qB: rand('ap.qB', 8, 0.1), kW: rand('ap.kW', 64, 0.5),
      kB: rand('ap.kB', 8, 0.1), vW: rand('ap.vW', 64, 0.5), vB: rand('ap.vB', 8, 0.1), cW: rand('ap.cW', 48, 0.5), cB: rand('ap.cB', 6, 0.1),
    };
    const x = rand('ap.x', d.B * d.C * d.HW), dout = rand('ap.dout', d.B * d.E);
    const acts = () => { const [tok, qkv, att, ctx, tmp] = attnpoolActSizes(d).map((n) => new Float64Array(n)); return { tok, qkv, att, ctx, tmp }; };
    const loss = () => { const y = new Float64Array(d.B * d.E); attnpoolForward(tsBackend, y, acts(), x, p, d); return dot(y, dout); };
    const a = acts();
    attnpoolForward(tsBackend, new Float64Array(d.B * d.E), a, x, p, d);
    const wg = Object.fromEntries(Object.entries(p).map(([k, v]) => [k, new Float64Array(v.length)]));
    const dx = new Float64Array(x.length);
    attnpoolBackward(tsBackend, dx, { dctx: new Float64Array(d.B * d.C), dqkv: new Float64Array(d.B * N * 3 * d.C),
      dtok: new Float64Array(d.B * N * d.C), datt: new Float64Array(d.B * d.H * N) }, dout, a, p, d, wg);
    assertClose(t, 'fd attnpool.dx', dx, numericGrad(loss, x), fd);
    // dkB is 0 (a bias shared by every key shifts each score equally; softmax ignores it): compared absolutely
    for (const k of Object.keys(p)) assertClose(t, `fd attnpool.d${k}`, wg[k], numericGrad(loss, p[k]), fd, k === 'kB' ? 1 : 0);
  }
  t.end();
});

// A seeded miniature ResNet CLIP (stem width 4, one bottleneck a stage, 64 px: every kind of block, downsample
// with and without pooling) in float64: the whole tower's backward against finite differences, to the pixels
// and to sampled weights of every kind (weight gradients asked for).
test('resnet tower vs finite differences (float64): pixels and sampled weights of every kind', (t) => {
  const fd = RESNET_TOL.fd;
  const resnet = { layers: [1, 2, 1, 1], width: 4 };
  const config = {
    vision: resnetVisionConfig(resnet, 64), resnet, embedDim: 8, logitScaleInit: 2.6592,
    text: { width: 64, layers: 1, heads: 1, mlpWidth: 64, act: 'quick_gelu', eps: 1e-5, contextLength: 4, vocabSize: 10, eotId: 9 },
  };
  const model = seededClip(config, 5, 'float64');
  const pixels = rand('tower.pixels', 3 * 64 * 64, 2);
  const dEmb = rand('tower.demb', 8);
  const loss = () => dot(visionForward(model, { data: pixels, shape: [1, 3, 64, 64] }, { keep: [] }).embeddings.data, dEmb);
  const run = visionForward(model, { data: pixels, shape: [1, 3, 64, 64] });
  const wg = allocParams(config, 'float64');
  const dPix = visionBackward(model, run, { data: dEmb, shape: [1, 8] }, 'visual.pixels', { weightGrads: wg }).data;
  // the loss is O(1), so central differences carry ~1e-10 of rounding noise absolutely: gradients (here 1e-6 to
  // 1e-3) are compared relative to max(max |reference|, 1e-2)
  const FLOOR = 1e-2;
  t.comment(`loss ${loss().toExponential(3)}`);
  const idx = Array.from({ length: 24 }, (_, i) => (i * 977 + 13) % pixels.length);
  assertClose(t, 'fd tower.dpixels (24 sampled)', idx.map((i) => dPix[i]), numericGrad(loss, pixels, idx), fd, FLOOR);
  for (const name of ['vision.stem.conv1.weight', 'vision.stem.bn2.weight', 'vision.stem.bn3.bias', 'vision.layer1.0.conv2.weight',
    'vision.layer2.0.downsample.conv.weight', 'vision.layer2.0.downsample.bn.weight', 'vision.layer2.1.bn3.weight',
    'vision.layer4.0.conv3.weight', 'vision.attnpool.pos', 'vision.attnpool.q.weight', 'vision.attnpool.c_proj.bias']) {
    const w = param(model.params, name);
    const g = param(wg, name);
    const at = Array.from({ length: Math.min(6, w.length) }, (_, i) => (i * 131 + 7) % w.length);
    assertClose(t, `fd tower.d ${name} (${at.length} sampled)`, at.map((i) => g[i]), numericGrad(loss, w, at), fd, FLOOR);
  }
  t.end();
});
