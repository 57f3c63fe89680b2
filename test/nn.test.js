// test/nn.test.js: every layer op (src/nn: the reference loops) forward and hand-written backward,
//   1. against PyTorch: outputs, and autograd of (out·dout).sum() with a seeded dout (reference/clip_fixtures.py,
//      clip_ops_f32 / clip_ops_f64), float32 and float64, tolerances from test/clip_tolerances.js;
//   2. against central finite differences in float64 on tiny random sizes.
// Our erf (nn/erf.ts) is checked through the exact gelu: 400 points in (−8, 8) against torch's float64 gelu.
import test from 'tape';
import { join } from 'node:path';
import { readSafetensors } from '../dist/io/safetensors.js';
import { tsBackend } from '../dist/kernels/reference.js';
import { linearForward, linearBackward } from '../dist/nn/linear.js';
import { layernormForward, layernormBackward } from '../dist/nn/layernorm.js';
import { quickGeluForward, quickGeluBackward, geluForward, geluBackward } from '../dist/nn/gelu.js';
import { attentionForward, attentionBackward } from '../dist/nn/attention.js';
import { patchify, patchifyBackward, embedForward, embedBackward } from '../dist/nn/embed.js';
import { residualForward, residualBackward } from '../dist/nn/residual.js';
import { allocBlockActs, blockForward, blockBackward } from '../dist/clip/block.js';
import { mulberry32 } from '../dist/tensor/rng.js';
import { assertClose, fixturesDir } from './helpers/compare.js';
import { OP_TOL as TOL } from './tolerances.js';

const be = tsBackend;
const DTYPES = { float32: 'f32', float64: 'f64' };

function fixture(dtype) {
  const file = readSafetensors(join(fixturesDir, `clip_ops_${DTYPES[dtype]}.safetensors`));
  const get = (name) => {
    const t = file.tensors.get(name);
    if (!t) throw new Error(`fixture tensor ${name} missing`);
    return t.data;
  };
  return { get, shape: (name) => file.tensors.get(name).shape };
}
const alloc = (dtype, n) => (dtype === 'float64' ? new Float64Array(n) : new Float32Array(n));

for (const dtype of ['float32', 'float64']) {
  const tol = TOL[dtype];

  test(`nn vs PyTorch (${dtype}): linear, three sizes around the 4×4 tiles`, (t) => {
    const f = fixture(dtype);
    for (const tag of ['linear_a', 'linear_b', 'linear_c']) {
      const [M, K] = f.shape(`${tag}.inp`);
      const N = f.shape(`${tag}.w`)[0];
      const out = alloc(dtype, M * N);
      linearForward(out, f.get(`${tag}.inp`), f.get(`${tag}.w`), f.get(`${tag}.b`), M, K, N);
      assertClose(t, `${tag}.out`, out, f.get(`${tag}.out`), tol.forward);
      const dinp = alloc(dtype, M * K), dw = alloc(dtype, N * K), db = alloc(dtype, N);
      linearBackward(dinp, dw, db, f.get(`${tag}.dout`), f.get(`${tag}.inp`), f.get(`${tag}.w`), M, K, N);
      assertClose(t, `${tag}.dinp`, dinp, f.get(`${tag}.dinp`), tol.grad);
      assertClose(t, `${tag}.dw`, dw, f.get(`${tag}.dw`), tol.grad);
      assertClose(t, `${tag}.db`, db, f.get(`${tag}.db`), tol.grad);
    }
    t.end();
  });

  test(`nn vs PyTorch (${dtype}): layernorm`, (t) => {
    const f = fixture(dtype);
    const [N, C] = f.shape('layernorm.inp');
    const out = alloc(dtype, N * C), mean = alloc(dtype, N), rstd = alloc(dtype, N);
    layernormForward(out, mean, rstd, f.get('layernorm.inp'), f.get('layernorm.w'), f.get('layernorm.b'), N, C, 1e-5);
    assertClose(t, 'layernorm.out', out, f.get('layernorm.out'), tol.forward);
    const dinp = alloc(dtype, N * C), dw = alloc(dtype, C), db = alloc(dtype, C);
    layernormBackward(dinp, dw, db, f.get('layernorm.dout'), f.get('layernorm.inp'), f.get('layernorm.w'), mean, rstd, N, C);
    assertClose(t, 'layernorm.dinp', dinp, f.get('layernorm.dinp'), tol.grad);
    assertClose(t, 'layernorm.dw', dw, f.get('layernorm.dw'), tol.grad);
    assertClose(t, 'layernorm.db', db, f.get('layernorm.db'), tol.grad);
    t.end();
  });

  test(`nn vs PyTorch (${dtype}): quick_gelu and exact gelu over (−8, 8)`, (t) => {
    const f = fixture(dtype);
    for (const [act, fwd, bwd] of [['quick_gelu', quickGeluForward, quickGeluBackward], ['gelu', geluForward, geluBackward]]) {
      const n = f.shape(`${act}.inp`)[0];
      const out = alloc(dtype, n), dinp = alloc(dtype, n);
      fwd(out, f.get(`${act}.inp`), n);
      assertClose(t, `${act}.out`, out, f.get(`${act}.out`), tol.forward);
      bwd(dinp, f.get(`${act}.dout`), f.get(`${act}.inp`), n);
      assertClose(t, `${act}.dinp`, dinp, f.get(`${act}.dinp`), tol.grad);
    }
    t.end();
  });

  test(`nn vs PyTorch (${dtype}): attention core — full, causal, class token only`, (t) => {
    const f = fixture(dtype);
    for (const [tag, causal, nq] of [['attention', false, 5], ['attention_causal', true, 5], ['attention_cls', false, 1]]) {
      const [B, N, D3] = f.shape(`${tag}.qkv`);
      const H = 3, hd = D3 / 3 / H, D = H * hd;
      const out = alloc(dtype, B * nq * D), att = alloc(dtype, B * H * nq * N);
      attentionForward(out, att, f.get(`${tag}.qkv`), B, N, nq, H, hd, causal);
      assertClose(t, `${tag}.att`, att, f.get(`${tag}.att`), tol.forward);
      assertClose(t, `${tag}.out`, out, f.get(`${tag}.out`), tol.forward);
      const dqkv = alloc(dtype, B * N * 3 * D), datt = alloc(dtype, B * H * nq * N);
      attentionBackward(dqkv, datt, f.get(`${tag}.dout`), att, f.get(`${tag}.qkv`), B, N, nq, H, hd, causal);
      assertClose(t, `${tag}.dqkv`, dqkv, f.get(`${tag}.dqkv`), tol.grad);
    }
    t.end();
  });

  test(`nn vs PyTorch (${dtype}): patch embedding + class token + positions (2×3 grid)`, (t) => {
    const f = fixture(dtype);
    const [B, C, Hi, Wi] = f.shape('embed.pixels');
    const [D, , P] = f.shape('embed.w');
    const hw = (Hi / P) * (Wi / P), N = 1 + hw, K = C * P * P;
    const patches = alloc(dtype, B * hw * K), pe = alloc(dtype, B * hw * D), out = alloc(dtype, B * N * D);
    patchify(patches, f.get('embed.pixels'), B, C, Hi, Wi, P);
    linearForward(pe, patches, f.get('embed.w'), null, B * hw, K, D);
    embedForward(out, pe, f.get('embed.cls'), f.get('embed.pos'), B, N, D);
    assertClose(t, 'embed.out', out, f.get('embed.out'), tol.forward);
    const dpe = alloc(dtype, B * hw * D), dcls = alloc(dtype, D), dpos = alloc(dtype, N * D);
    embedBackward(dpe, dcls, dpos, f.get('embed.dout'), B, N, D);
    const dpatches = alloc(dtype, B * hw * K), dw = alloc(dtype, D * K), dpix = alloc(dtype, B * C * Hi * Wi);
    linearBackward(dpatches, dw, null, dpe, patches, f.get('embed.w'), B * hw, K, D);
    patchifyBackward(dpix, dpatches, B, C, Hi, Wi, P);
    assertClose(t, 'embed.dpixels', dpix, f.get('embed.dpixels'), tol.grad);
    assertClose(t, 'embed.dw', dw, f.get('embed.dw'), tol.grad);
    assertClose(t, 'embed.dcls', dcls, f.get('embed.dcls'), tol.grad);
    assertClose(t, 'embed.dpos', dpos, f.get('embed.dpos'), tol.grad);
    t.end();
  });

  test(`nn vs PyTorch (${dtype}): one whole block (vision quick_gelu; causal gelu), every weight gradient`, (t) => {
    const f = fixture(dtype);
    for (const [tag, causal, act] of [['block', false, 'quick_gelu'], ['block_causal', true, 'gelu']]) {
      const [B, N, D] = f.shape(`${tag}.inp`);
      const F = f.shape(`${tag}.mlp.fc1.bias`)[0];
      const d = { B, N, nq: N, D, H: 3, F, causal, act, eps: 1e-5 };
      const hf = (n) => f.get(`${tag}.${n}`);
      const p = blockParamsFrom((n) => hf(n), dtype, D);
      const a = allocBlockActs(d, dtype, hf('inp'), null);
      blockForward(be, a, p, d);
      assertClose(t, `${tag}.out`, a.out, hf('out'), tol.forward);
      const g = allocBlockActs(d, dtype, null, hf('dout').slice());
      const wg = blockParamsFrom(null, dtype, D, F);
      blockBackward(be, g, a, p, d, wg, 'input');
      assertClose(t, `${tag}.dinp`, g.input, hf('dinp'), tol.grad);
      const dq = (n) => f.get(`${tag}.d.${n}`);
      for (const [ours, theirs] of BLOCK_NAMES) {
        if (ours === 'qkvW' || ours === 'qkvB') {
          // the key bias cannot change a softmax row (it adds q·b_k to every score), so its gradient is exactly
          // 0 and both sides hold rounding noise: it is compared on the scale of the whole qkv bias gradient,
          // taken from the reference (PyTorch's q, k and v bias gradients), never from ours
          const n = ours === 'qkvW' ? D * D : D;
          const floor = ours === 'qkvB'
            ? Math.max(...['q', 'k', 'v'].flatMap((x) => Array.from(dq(`self_attn.${x}_proj.${theirs}`), Math.abs))) : 0;
          ['q', 'k', 'v'].forEach((x, i) => assertClose(t, `${tag}.d.self_attn.${x}_proj.${theirs}`,
            wg[ours].subarray(i * n, (i + 1) * n), dq(`self_attn.${x}_proj.${theirs}`), tol.grad, floor));
        } else {
          assertClose(t, `${tag}.d.${theirs}`, wg[ours], dq(theirs), tol.grad);
        }
      }
    }
    t.end();
  });
}

// our BlockParams fields and the HF EncoderLayer parameter names (q, k, v stacked into qkv)
const BLOCK_NAMES = [
  ['ln1W', 'layer_norm1.weight'], ['ln1B', 'layer_norm1.bias'], ['qkvW', 'weight'], ['qkvB', 'bias'],
  ['projW', 'self_attn.out_proj.weight'], ['projB', 'self_attn.out_proj.bias'],
  ['ln2W', 'layer_norm2.weight'], ['ln2B', 'layer_norm2.bias'], ['fcW', 'mlp.fc1.weight'], ['fcB', 'mlp.fc1.bias'],
  ['fc2W', 'mlp.fc2.weight'], ['fc2B', 'mlp.fc2.bias'],
];

// BlockParams from HF-named arrays (get), or zeroed ones for gradients (get null)
function blockParamsFrom(get, dtype, D, F) {
  const cat = (parts) => {
    const out = alloc(dtype, parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) { out.set(p, o); o += p.length; }
    return out;
  };
  if (!get) {
    return {
      ln1W: alloc(dtype, D), ln1B: alloc(dtype, D), qkvW: alloc(dtype, 3 * D * D), qkvB: alloc(dtype, 3 * D),
      projW: alloc(dtype, D * D), projB: alloc(dtype, D), ln2W: alloc(dtype, D), ln2B: alloc(dtype, D),
      fcW: alloc(dtype, F * D), fcB: alloc(dtype, F), fc2W: alloc(dtype, D * F), fc2B: alloc(dtype, D),
    };
  }
  const p = {};
  for (const [ours, theirs] of BLOCK_NAMES) {
    p[ours] = ours === 'qkvW' || ours === 'qkvB'
      ? cat(['q', 'k', 'v'].map((x) => get(`self_attn.${x}_proj.${theirs}`))) : get(theirs);
  }
  return p;
}

// ---- central finite differences in float64 ----------------------------------------------------------------

const H_STEP = 1e-6;
function rand(n, seed, scale = 1, offset = 0) {
  const r = mulberry32(seed);
  return Float64Array.from({ length: n }, () => offset + scale * (2 * r() - 1));
}
const dot = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);

// numeric d(loss)/d(x[i]) for every i, by (loss(x + h) − loss(x − h)) / 2h
function numericGrad(loss, x) {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const keep = x[i];
    x[i] = keep + H_STEP;
    const up = loss();
    x[i] = keep - H_STEP;
    const down = loss();
    x[i] = keep;
    g[i] = (up - down) / (2 * H_STEP);
  }
  return g;
}

test('nn vs finite differences (float64): linear', (t) => {
  const M = 5, K = 6, N = 7;
  const x = rand(M * K, 1), w = rand(N * K, 2), b = rand(N, 3), dout = rand(M * N, 4);
  const loss = () => { const o = new Float64Array(M * N); linearForward(o, x, w, b, M, K, N); return dot(o, dout); };
  const dx = new Float64Array(M * K), dw = new Float64Array(N * K), db = new Float64Array(N);
  linearBackward(dx, dw, db, dout, x, w, M, K, N);
  assertClose(t, 'fd linear.dinp', dx, numericGrad(loss, x), TOL.fd);
  assertClose(t, 'fd linear.dw', dw, numericGrad(loss, w), TOL.fd);
  assertClose(t, 'fd linear.db', db, numericGrad(loss, b), TOL.fd);
  t.end();
});

test('nn vs finite differences (float64): layernorm', (t) => {
  const N = 4, C = 9;
  const x = rand(N * C, 5, 2, 0.5), w = rand(C, 6, 0.5, 1), b = rand(C, 7), dout = rand(N * C, 8);
  const loss = () => {
    const o = new Float64Array(N * C);
    layernormForward(o, new Float64Array(N), new Float64Array(N), x, w, b, N, C, 1e-5);
    return dot(o, dout);
  };
  const mean = new Float64Array(N), rstd = new Float64Array(N);
  layernormForward(new Float64Array(N * C), mean, rstd, x, w, b, N, C, 1e-5);
  const dx = new Float64Array(N * C), dw = new Float64Array(C), db = new Float64Array(C);
  layernormBackward(dx, dw, db, dout, x, w, mean, rstd, N, C);
  assertClose(t, 'fd layernorm.dinp', dx, numericGrad(loss, x), TOL.fd);
  assertClose(t, 'fd layernorm.dw', dw, numericGrad(loss, w), TOL.fd);
  assertClose(t, 'fd layernorm.db', db, numericGrad(loss, b), TOL.fd);
  t.end();
});

test('nn vs finite differences (float64): quick_gelu, gelu (both erf branches)', (t) => {
  const n = 60;
  const x = rand(n, 9, 6), dout = rand(n, 10);
  for (const [name, fwd, bwd] of [['quick_gelu', quickGeluForward, quickGeluBackward], ['gelu', geluForward, geluBackward]]) {
    const loss = () => { const o = new Float64Array(n); fwd(o, x, n); return dot(o, dout); };
    const dx = new Float64Array(n);
    bwd(dx, dout, x, n);
    assertClose(t, `fd ${name}.dinp`, dx, numericGrad(loss, x), TOL.fd);
  }
  t.end();
});

test('nn vs finite differences (float64): attention core — full, causal, class token only', (t) => {
  const B = 2, N = 4, H = 2, hd = 3, D = H * hd;
  for (const [name, causal, nq] of [['full', false, N], ['causal', true, N], ['cls', false, 1]]) {
    const qkv = rand(B * N * 3 * D, 11), dout = rand(B * nq * D, 12);
    const loss = () => {
      const o = new Float64Array(B * nq * D);
      attentionForward(o, new Float64Array(B * H * nq * N), qkv, B, N, nq, H, hd, causal);
      return dot(o, dout);
    };
    const att = new Float64Array(B * H * nq * N);
    attentionForward(new Float64Array(B * nq * D), att, qkv, B, N, nq, H, hd, causal);
    const dqkv = new Float64Array(B * N * 3 * D);
    attentionBackward(dqkv, new Float64Array(B * H * nq * N), dout, att, qkv, B, N, nq, H, hd, causal);
    assertClose(t, `fd attention(${name}).dqkv`, dqkv, numericGrad(loss, qkv), TOL.fd);
  }
  t.end();
});

test('nn vs finite differences (float64): patch embedding, class token, positions', (t) => {
  const B = 2, C = 3, Hi = 4, Wi = 6, P = 2, D = 3, hw = 6, N = 7, K = C * P * P;
  const pix = rand(B * C * Hi * Wi, 13), w = rand(D * K, 14), cls = rand(D, 15), pos = rand(N * D, 16), dout = rand(B * N * D, 17);
  const forward = (patches) => {
    const pe = new Float64Array(B * hw * D), o = new Float64Array(B * N * D);
    patchify(patches, pix, B, C, Hi, Wi, P);
    linearForward(pe, patches, w, null, B * hw, K, D);
    embedForward(o, pe, cls, pos, B, N, D);
    return o;
  };
  const loss = () => dot(forward(new Float64Array(B * hw * K)), dout);
  const patches = new Float64Array(B * hw * K);
  forward(patches);
  const dpe = new Float64Array(B * hw * D), dcls = new Float64Array(D), dpos = new Float64Array(N * D);
  embedBackward(dpe, dcls, dpos, dout, B, N, D);
  const dpatches = new Float64Array(B * hw * K), dw = new Float64Array(D * K), dpix = new Float64Array(B * C * Hi * Wi);
  linearBackward(dpatches, dw, null, dpe, patches, w, B * hw, K, D);
  patchifyBackward(dpix, dpatches, B, C, Hi, Wi, P);
  assertClose(t, 'fd embed.dpixels', dpix, numericGrad(loss, pix), TOL.fd);
  assertClose(t, 'fd embed.dw', dw, numericGrad(loss, w), TOL.fd);
  assertClose(t, 'fd embed.dcls', dcls, numericGrad(loss, cls), TOL.fd);
  assertClose(t, 'fd embed.dpos', dpos, numericGrad(loss, pos), TOL.fd);
  t.end();
});

test('nn vs finite differences (float64): residual with a class-token-only branch', (t) => {
  const B = 2, Nx = 3, Ny = 1, C = 4;
  const x = rand(B * Nx * C, 18), y = rand(B * Ny * C, 19), dout = rand(B * Ny * C, 20);
  const loss = () => { const o = new Float64Array(B * Ny * C); residualForward(o, x, y, B, Nx, Ny, C); return dot(o, dout); };
  const dx = new Float64Array(B * Nx * C), dy = new Float64Array(B * Ny * C);
  residualBackward(dx, dy, dout, B, Nx, Ny, C);
  assertClose(t, 'fd residual.dx', dx, numericGrad(loss, x), TOL.fd);
  assertClose(t, 'fd residual.dy', dy, numericGrad(loss, y), TOL.fd);
  t.end();
});

test('nn vs finite differences (float64): a whole block (input and weight gradients); early stops', (t) => {
  const B = 2, N = 3, D = 4, H = 2, F = 5;
  const d = { B, N, nq: N, D, H, F, causal: false, act: 'gelu', eps: 1e-5 };
  const x = rand(B * N * D, 21, 1.5);
  const p = {
    ln1W: rand(D, 22, 0.3, 1), ln1B: rand(D, 23, 0.3), qkvW: rand(3 * D * D, 24), qkvB: rand(3 * D, 25),
    projW: rand(D * D, 26), projB: rand(D, 27), ln2W: rand(D, 28, 0.3, 1), ln2B: rand(D, 29, 0.3),
    fcW: rand(F * D, 30), fcB: rand(F, 31), fc2W: rand(D * F, 32), fc2B: rand(D, 33),
  };
  const dout = rand(B * N * D, 34);
  const run = () => { const a = allocBlockActs(d, 'float64', x, null); blockForward(be, a, p, d); return a; };
  const a = run();
  const loss = () => dot(run().out, dout);
  const g = allocBlockActs(d, 'float64', null, dout.slice());
  const wg = Object.fromEntries(Object.entries(p).map(([k, v]) => [k, new Float64Array(v.length)]));
  blockBackward(be, g, a, p, d, wg, 'input');
  assertClose(t, 'fd block.dinput', g.input, numericGrad(loss, x), TOL.fd);
  for (const k of ['ln1W', 'qkvW', 'qkvB', 'projW', 'ln2B', 'fcW', 'fc2W', 'fc2B']) {
    assertClose(t, `fd block.d${k}`, wg[k], numericGrad(loss, p[k]), TOL.fd);
  }
  // stopping early gives the same partial gradients as the full pass had at that point
  for (const [stop, field] of [['mlp', 'mlp'], ['ln_2', 'ln2'], ['mid', 'mid'], ['ln_1', 'ln1']]) {
    const gs = allocBlockActs(d, 'float64', null, dout.slice());
    blockBackward(be, gs, a, p, d, null, stop);
    assertClose(t, `block stop at ${stop} = full pass's d${field}`, gs[field], g[field], 0);
  }
  t.end();
});
