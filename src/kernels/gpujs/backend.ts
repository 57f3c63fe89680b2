// kernels/gpujs/backend.ts: the `gpu` Backend — the ops of the reference (nn/linear.ts, nn/attention.ts, nn/conv2d.ts) as
// gpu.js kernels (one thread per output element, sums in float32 in increasing index order), run by gpu.js's
// headless-gl backend where the native `gl` addon and a GPU are present (in a browser: its `webgl2` backend), else
// by its `webasm` backend (WebAssembly on the CPU), or its plain `cpu` backend when asked. gpu.js's webgpu backend is asynchronous
// only, and the Backend interface is synchronous, so it is not used. Each output is computed by one thread, so
// results do not depend on scheduling; they match ts within float32 tolerances. gpu.js is an optional peer
// dependency, loaded (synchronously, with createRequire) on first use: where it is not installed this backend
// is unavailable, saying how to install it, and `auto` skips it.
// Kernels read flat arrays; outputs are 2-D (columns × rows) so no thread index needs a float division.

import { fail } from '../../errors.js';
import { GL_MODE, glAddonBuilt, requireGpuJs } from '../../platform/node.js';
import type { Float } from '../../tensor/tensor.js';
import { attentionBackward as tsAttentionBackward, attentionForward as tsAttention } from '../../nn/attention.js';
import { linearBackward as tsMatmulBackward, linearForward as tsMatmul } from '../../nn/linear.js';
import { conv2dBackward as tsConv2dBackward, conv2dForward as tsConv2d, convOutSize } from '../../nn/conv2d.js';
import { isF32, type Backend } from '../backend.js';
import type { GPU as GpuClass, IKernelFunctionThis, IKernelRunShortcut } from 'gpu.js';

/**
 * gpu.js's modes: `headlessgl` (GLSL through the native `gl` addon), `webasm` and `cpu` (both on the CPU), and in a
 * browser `webgl2` (GLSL on the page's WebGL2).
 */
export type GpuMode = 'headlessgl' | 'webasm' | 'cpu' | 'webgl2';
/** Every GpuMode. */
export const GPU_MODES: readonly GpuMode[] = ['headlessgl', 'webasm', 'cpu', 'webgl2'];

/** Options of the gpu backend. */
export interface GpuOptions {
  /** gpu.js's mode (default: headlessgl where it works, else webasm). */
  mode?: GpuMode;
}

/** The gpu backend: gpu.js kernels; gpu.js (an optional peer dependency) is loaded on first use. */
export interface GpuBackend extends Backend {
  /** The gpu.js mode it runs in. */
  readonly mode: GpuMode;
  unavailable(): string | null;
  describe(): string;
  // Destroys gpu.js's context and kernels; the backend is unusable afterwards.
  close(): void;
}

type This = IKernelFunctionThis;
const GPUJS_VERSION = '2.24.1'; // the version the kernels are tested with (package.json's peer dependency)
const MAX_LOOP = 1 << 20; // gpu.js unrolls nothing: loops with a run-time bound need a ceiling (GLSL)

// ---- the kernels: thread.x = column, thread.y = row of the output ----

// out[m][n] = Σ_k inp[m,k]·w[n,k] + b[n]   (torch Linear: w is (N,K))
function linearK(this: This, inp: number[], w: number[], b: number[], K: number, hasBias: number): number {
  const m = this.thread.y, n = this.thread.x;
  let s = 0;
  for (let k = 0; k < K; k++) s += inp[m * K + k] * w[n * K + k];
  if (hasBias > 0) s += b[n];
  return s;
}

// dinp[m][k] = Σ_n dout[m,n]·w[n,k]
function linearDinpK(this: This, dout: number[], w: number[], N: number, K: number): number {
  const m = this.thread.y, k = this.thread.x;
  let s = 0;
  for (let n = 0; n < N; n++) s += dout[m * N + n] * w[n * K + k];
  return s;
}

// dw[n][k] = Σ_m dout[m,n]·inp[m,k]
function linearDwK(this: This, dout: number[], inp: number[], M: number, N: number, K: number): number {
  const n = this.thread.y, k = this.thread.x;
  let s = 0;
  for (let m = 0; m < M; m++) s += dout[m * N + n] * inp[m * K + k];
  return s;
}

// Attention rows are r = u·nq + t for unit u = b·H + h and query t; qkv (B,N,3D) rows [q | k | v].
// scores[r][j] = q_t·k_j·scale (masked keys are ignored by the softmax kernels)
function scoresK(this: This, qkv: number[], N: number, nq: number, H: number, hd: number, scale: number): number {
  const r = this.thread.y, j = this.thread.x;
  const u = Math.floor((r + 0.5) / nq), t = r - u * nq;
  const b = Math.floor((u + 0.5) / H), h = u - b * H;
  const D3 = 3 * H * hd;
  const q = (b * N + t) * D3 + h * hd, k = (b * N + j) * D3 + H * hd + h * hd;
  let s = 0;
  for (let d = 0; d < hd; d++) s += qkv[q + d] * qkv[k + d];
  return s * scale;
}

// rowMax[r] = max over the keys query t sees (all N, or 0…t when causal)
function rowMaxK(this: This, s: number[], N: number, nq: number, causal: number): number {
  const r = this.thread.x;
  const t = r - Math.floor((r + 0.5) / nq) * nq;
  const seen = causal > 0 ? t + 1 : N;
  let m = s[r * N];
  for (let j = 1; j < seen; j++) m = Math.max(m, s[r * N + j]);
  return m;
}

// rowSum[r] = Σ_j exp(s_j − max)
function rowSumK(this: This, s: number[], rowMax: number[], N: number, nq: number, causal: number): number {
  const r = this.thread.x;
  const t = r - Math.floor((r + 0.5) / nq) * nq;
  const seen = causal > 0 ? t + 1 : N;
  let sum = 0;
  for (let j = 0; j < seen; j++) sum += Math.exp(s[r * N + j] - rowMax[r]);
  return sum;
}

// att[r][j] = exp(s_j − max)/sum, 0 for masked keys
function softmaxK(this: This, s: number[], rowMax: number[], rowSum: number[], N: number, nq: number, causal: number): number {
  const r = this.thread.y, j = this.thread.x;
  const t = r - Math.floor((r + 0.5) / nq) * nq;
  if (causal > 0 && j > t) return 0;
  return Math.exp(s[r * N + j] - rowMax[r]) / rowSum[r];
}

// out[b·nq + t][h·hd + d] = Σ_j att[r][j]·v_j[d]
function attnOutK(this: This, att: number[], qkv: number[], N: number, nq: number, H: number, hd: number): number {
  const row = this.thread.y, c = this.thread.x;
  const b = Math.floor((row + 0.5) / nq), t = row - b * nq;
  const h = Math.floor((c + 0.5) / hd), d = c - h * hd;
  const r = (b * H + h) * nq + t;
  const D3 = 3 * H * hd;
  let s = 0;
  for (let j = 0; j < N; j++) s += att[r * N + j] * qkv[(b * N + j) * D3 + 2 * H * hd + c];
  return s;
}

// backward. datt[r][j] = dout_t·v_j
function dattK(this: This, dout: number[], qkv: number[], N: number, nq: number, H: number, hd: number): number {
  const r = this.thread.y, j = this.thread.x;
  const u = Math.floor((r + 0.5) / nq), t = r - u * nq;
  const b = Math.floor((u + 0.5) / H), h = u - b * H;
  const D = H * hd;
  let s = 0;
  for (let d = 0; d < hd; d++) s += dout[(b * nq + t) * D + h * hd + d] * qkv[(b * N + j) * 3 * D + 2 * D + h * hd + d];
  return s;
}

// rowDot[r] = Σ_j att_j·datt_j (softmax backward)
function rowDotK(this: This, att: number[], datt: number[], N: number): number {
  const r = this.thread.x;
  let s = 0;
  for (let j = 0; j < N; j++) s += att[r * N + j] * datt[r * N + j];
  return s;
}

// ds[r][j] = att_j·(datt_j − rowDot), 0 for masked keys (their att is 0)
function dsK(this: This, att: number[], datt: number[], rowDot: number[], N: number): number {
  const r = this.thread.y, j = this.thread.x;
  return att[r * N + j] * (datt[r * N + j] - rowDot[r]);
}

// dq[b·nq + t][h·hd + d] = scale·Σ_j ds[r][j]·k_j[d]
function dqK(this: This, ds: number[], qkv: number[], N: number, nq: number, H: number, hd: number, scale: number): number {
  const row = this.thread.y, c = this.thread.x;
  const b = Math.floor((row + 0.5) / nq), t = row - b * nq;
  const h = Math.floor((c + 0.5) / hd);
  const r = (b * H + h) * nq + t;
  const D3 = 3 * H * hd;
  let s = 0;
  for (let j = 0; j < N; j++) s += ds[r * N + j] * qkv[(b * N + j) * D3 + H * hd + c];
  return s * scale;
}

// dk[b·N + j][c] = scale·Σ_t ds[r_t][j]·q_t[c]  and  dv[b·N + j][c] = Σ_t att[r_t][j]·dout_t[c]
function dkK(this: This, ds: number[], qkv: number[], N: number, nq: number, H: number, hd: number, scale: number): number {
  const row = this.thread.y, c = this.thread.x;
  const b = Math.floor((row + 0.5) / N), j = row - b * N;
  const h = Math.floor((c + 0.5) / hd);
  const D3 = 3 * H * hd;
  let s = 0;
  for (let t = 0; t < nq; t++) s += ds[((b * H + h) * nq + t) * N + j] * qkv[(b * N + t) * D3 + c];
  return s * scale;
}

function dvK(this: This, att: number[], dout: number[], N: number, nq: number, H: number, hd: number): number {
  const row = this.thread.y, c = this.thread.x;
  const b = Math.floor((row + 0.5) / N), j = row - b * N;
  const h = Math.floor((c + 0.5) / hd);
  let s = 0;
  for (let t = 0; t < nq; t++) s += att[((b * H + h) * nq + t) * N + j] * dout[(b * nq + t) * H * hd + c];
  return s;
}

// Convolutions (nn/conv2d.ts, NCHW), outputs 3-D (x = column, y = row, z = image·channels) so that no side is
// a whole image's worth of positions (GL textures are at most a few thousand texels wide).
// y[n,o,oy,ox] = Σ_c Σ_ky Σ_kx x[n,c,iy,ix]·w[o,c,ky,kx] (+ b[o]), iy = oy·s − p + ky (ix alike), in that order
function convK(this: This, x: number[], w: number[], b: number[], C: number, H: number, W: number, O: number,
  kh: number, kw: number, s: number, p: number, hasBias: number): number {
  const ox = this.thread.x, oy = this.thread.y, z = this.thread.z;
  const n = Math.floor((z + 0.5) / O), o = z - n * O;
  let sum = 0;
  for (let c = 0; c < C; c++) {
    for (let ky = 0; ky < kh; ky++) {
      const iy = oy * s - p + ky;
      if (iy >= 0 && iy < H) {
        for (let kx = 0; kx < kw; kx++) {
          const ix = ox * s - p + kx;
          if (ix >= 0 && ix < W) sum += x[((n * C + c) * H + iy) * W + ix] * w[((o * C + c) * kh + ky) * kw + kx];
        }
      }
    }
  }
  if (hasBias > 0) sum += b[o];
  return sum;
}

// dx[n,c,iy,ix] = Σ_o Σ_ky Σ_kx dy[n,o,oy,ox]·w[o,c,ky,kx] over the (oy, ox) with oy·s − p + ky = iy (ox alike)
function convDxK(this: This, dy: number[], w: number[], C: number, O: number, kh: number, kw: number, s: number,
  p: number, Ho: number, Wo: number): number {
  const ix = this.thread.x, iy = this.thread.y, z = this.thread.z;
  const n = Math.floor((z + 0.5) / C), c = z - n * C;
  let sum = 0;
  for (let o = 0; o < O; o++) {
    for (let ky = 0; ky < kh; ky++) {
      const t = iy + p - ky;
      const oy = Math.floor((t + 0.5) / s);
      if (t >= 0 && oy * s === t && oy < Ho) {
        for (let kx = 0; kx < kw; kx++) {
          const u = ix + p - kx;
          const ox = Math.floor((u + 0.5) / s);
          if (u >= 0 && ox * s === u && ox < Wo) sum += dy[((n * O + o) * Ho + oy) * Wo + ox] * w[((o * C + c) * kh + ky) * kw + kx];
        }
      }
    }
  }
  return sum;
}

// dw[o,c,ky,kx] = Σ_n Σ_oy Σ_ox dy[n,o,oy,ox]·x[n,c,iy,ix]; x = kx, y = ky, z = o·C + c
function convDwK(this: This, dy: number[], x: number[], N: number, C: number, H: number, W: number, O: number,
  s: number, p: number, Ho: number, Wo: number): number {
  const kx = this.thread.x, ky = this.thread.y, z = this.thread.z;
  const o = Math.floor((z + 0.5) / C), c = z - o * C;
  let sum = 0;
  for (let n = 0; n < N; n++) {
    for (let oy = 0; oy < Ho; oy++) {
      const iy = oy * s - p + ky;
      if (iy >= 0 && iy < H) {
        for (let ox = 0; ox < Wo; ox++) {
          const ix = ox * s - p + kx;
          if (ix >= 0 && ix < W) sum += dy[((n * O + o) * Ho + oy) * Wo + ox] * x[((n * C + c) * H + iy) * W + ix];
        }
      }
    }
  }
  return sum;
}

const KERNELS = { linearK, linearDinpK, linearDwK, scoresK, rowMaxK, rowSumK, softmaxK, attnOutK, dattK, rowDotK, dsK, dqK, dkK, dvK,
  convK, convDxK, convDwK };
type KernelName = keyof typeof KERNELS;

interface GpuModule { GPU: typeof GpuClass }
let gpuModule: GpuModule | null = null;
let loadError: string | null = null;

function loadGpuJs(): GpuModule | null {
  if (gpuModule || loadError) return gpuModule;
  try {
    gpuModule = requireGpuJs() as GpuModule;
  } catch (e) {
    const missing = (e as { code?: unknown }).code === 'MODULE_NOT_FOUND' && /'gpu\.js'/.test(String(e));
    loadError = missing
      ? `the gpu backend needs the package gpu.js, which is not installed (it is optional: npm install gpu.js@${GPUJS_VERSION})`
      : `the gpu.js package cannot be loaded: ${String(e)}`;
  }
  return gpuModule;
}

/**
 * Why a gpu.js mode cannot run here, or null.
 */
export function gpuModeUnavailable(mode: GpuMode): string | null {
  const m = loadGpuJs();
  if (!m) return loadError;
  if (mode === 'headlessgl' && !m.GPU.isHeadlessGLSupported) {
    return glAddonBuilt()
      ? 'gpu.js headlessgl: the native `gl` addon is built but opens no GL context here (no X display? run under xvfb-run)'
      : 'gpu.js headlessgl needs the native `gl` addon (not built here: see the README\'s set-up) and a GL context';
  }
  if (mode === 'webasm' && !m.GPU.isWebAssemblySupported) return 'gpu.js webasm is not supported by this engine';
  if (mode === 'webgl2' && !m.GPU.isWebGL2Supported) return 'gpu.js webgl2 needs a browser with WebGL2';
  return null;
}

/**
 * Creates the gpu.js Backend (headless-gl where available, else webasm, or cpu when asked); throws DecomcamError
 * when the requested mode cannot run here.
 */
export function createGpuBackend(options: GpuOptions = {}): GpuBackend {
  if (options.mode !== undefined && !GPU_MODES.includes(options.mode)) {
    fail(`gpu backend: mode "${String(options.mode)}" is unknown: choose one of ${GPU_MODES.join(', ')}`, 'usage');
  }
  // the default is decided on first use, so that importing this file does not load gpu.js
  let chosen: GpuMode | null = options.mode ?? null;
  const modeNow = (): GpuMode => (chosen ??= gpuModeUnavailable(GL_MODE) ? 'webasm' : GL_MODE);
  let gpu: GpuClass | null = null;
  const kernels = new Map<KernelName, IKernelRunShortcut>();

  let closed = false;

  function kernel(name: KernelName): IKernelRunShortcut {
    let k = kernels.get(name);
    if (k) return k;
    if (closed) fail('backend "gpu" was closed (close()): create another one', 'usage');
    if (!gpu) {
      const mode = modeNow();
      const why = gpuModeUnavailable(mode);
      if (why) fail(`backend "gpu" (${mode}) is not available: ${why}`, 'usage');
      gpu = new (loadGpuJs() as GpuModule).GPU({ mode });
    }
    // gpu.js reads the kernel's source text and transpiles it (to GLSL, or to wasm)
    k = gpu.createKernel(KERNELS[name].toString(), {
      dynamicOutput: true, dynamicArguments: true, precision: 'single', tactic: 'precision',
    });
    k.setLoopMaxIterations(MAX_LOOP);
    kernels.set(name, k);
    return k;
  }

  // Runs a kernel over cols × rows threads; the result, row-major, is written (or added) into dst.
  function run(name: KernelName, cols: number, rows: number, args: (Float | number)[], dst: Float, add: boolean,
    dstStride = cols, dstOffset = 0): void {
    const k = kernel(name);
    k.setOutput([cols, rows]);
    const result = k(...args) as Float32Array[];
    for (let r = 0; r < rows; r++) {
      const row = result[r];
      const o = dstOffset + r * dstStride;
      if (add) for (let c = 0; c < cols; c++) dst[o + c] += row[c];
      else for (let c = 0; c < cols; c++) dst[o + c] = row[c];
    }
  }

  // Runs a kernel over cols × rows × layers threads; the result, row-major, is written (or added) into dst.
  function run3(name: KernelName, cols: number, rows: number, layers: number, args: (Float | number)[], dst: Float, add: boolean): void {
    const k = kernel(name);
    k.setOutput([cols, rows, layers]);
    const result = k(...args) as Float32Array[][];
    for (let z = 0; z < layers; z++) {
      for (let r = 0; r < rows; r++) {
        const row = result[z][r];
        const o = (z * rows + r) * cols;
        if (add) for (let c = 0; c < cols; c++) dst[o + c] += row[c];
        else for (let c = 0; c < cols; c++) dst[o + c] = row[c];
      }
    }
  }

  // A kernel over `n` threads with a 1-D result.
  function run1(name: KernelName, n: number, args: (Float | number)[]): Float32Array {
    const k = kernel(name);
    k.setOutput([n]);
    return k(...args) as Float32Array;
  }

  return {
    name: 'gpu',
    get mode() { return modeNow(); },
    unavailable: () => gpuModeUnavailable(modeNow()),
    describe: () => `gpu (gpu.js ${modeNow()}${modeNow() === 'headlessgl' || modeNow() === 'webgl2' ? '' : ', on the CPU'})`,
    close() {
      closed = true;
      kernels.clear();
      const g = gpu;
      gpu = null;
      if (g) void g.destroy();
    },

    matmul(out, inp, w, b, M, K, N) {
      if (!isF32(out, inp, w, b)) return tsMatmul(out, inp, w, b, M, K, N);
      run('linearK', N, M, [inp.subarray(0, M * K), w.subarray(0, N * K), b ?? new Float32Array(1), K, b ? 1 : 0], out, false);
    },

    matmulBackward(dinp, dw, db, dout, inp, w, M, K, N) {
      if (!isF32(dinp, dw, db, dout, inp, w)) return tsMatmulBackward(dinp, dw, db, dout, inp, w, M, K, N);
      if (dinp) run('linearDinpK', K, M, [dout.subarray(0, M * N), w.subarray(0, N * K), N, K], dinp, true);
      if (dw) run('linearDwK', K, N, [dout.subarray(0, M * N), inp.subarray(0, M * K), M, N, K], dw, true);
      if (db) tsMatmulBackward(null, null, db, dout, inp, w, M, K, N); // O(M·N): the reference loop
    },

    conv2d(y, x, w, b, N, C, H, W, O, kh, kw, stride, pad) {
      if (!isF32(y, x, w, b)) return tsConv2d(y, x, w, b, N, C, H, W, O, kh, kw, stride, pad);
      const Ho = convOutSize(H, kh, stride, pad), Wo = convOutSize(W, kw, stride, pad);
      if (Ho <= 0 || Wo <= 0 || N * O === 0) return; // no output (gpu.js takes no empty kernel)
      run3('convK', Wo, Ho, N * O, [x.subarray(0, N * C * H * W), w.subarray(0, O * C * kh * kw), b ?? new Float32Array(1),
        C, H, W, O, kh, kw, stride, pad, b ? 1 : 0], y, false);
    },

    conv2dBackward(dx, dw, db, dy, x, w, N, C, H, W, O, kh, kw, stride, pad) {
      if (!isF32(dx, dw, db, dy, x, w)) return tsConv2dBackward(dx, dw, db, dy, x, w, N, C, H, W, O, kh, kw, stride, pad);
      const Ho = convOutSize(H, kh, stride, pad), Wo = convOutSize(W, kw, stride, pad);
      if (Ho <= 0 || Wo <= 0 || N * O === 0) return; // no output, so nothing to add
      const g = dy.subarray(0, N * O * Ho * Wo);
      if (C === 0) return tsConv2dBackward(null, null, db, dy, x, w, N, C, H, W, O, kh, kw, stride, pad); // only db
      if (dx) run3('convDxK', W, H, N * C, [g, w.subarray(0, O * C * kh * kw), C, O, kh, kw, stride, pad, Ho, Wo], dx, true);
      if (dw) run3('convDwK', kw, kh, O * C, [g, x.subarray(0, N * C * H * W), N, C, H, W, O, stride, pad, Ho, Wo], dw, true);
      if (db) tsConv2dBackward(null, null, db, dy, x, w, N, C, H, W, O, kh, kw, stride, pad); // O(N·O·P): the reference loop
    },

    attention(out, att, qkv, B, N, nq, H, hd, causal) {
      if (!isF32(out, att, qkv)) return tsAttention(out, att, qkv, B, N, nq, H, hd, causal);
      const rows = B * H * nq, c = causal ? 1 : 0;
      const x = qkv.subarray(0, B * N * 3 * H * hd);
      const s = new Float32Array(rows * N);
      run('scoresK', N, rows, [x, N, nq, H, hd, 1 / Math.sqrt(hd)], s, false);
      const max = run1('rowMaxK', rows, [s, N, nq, c]);
      const sum = run1('rowSumK', rows, [s, max, N, nq, c]);
      run('softmaxK', N, rows, [s, max, sum, N, nq, c], att, false);
      run('attnOutK', H * hd, B * nq, [att.subarray(0, rows * N), x, N, nq, H, hd], out, false);
    },

    attentionBackward(dqkv, datt, dout, att, qkv, B, N, nq, H, hd, causal) {
      if (!isF32(dqkv, datt, dout, att, qkv)) return tsAttentionBackward(dqkv, datt, dout, att, qkv, B, N, nq, H, hd, causal);
      const D = H * hd, rows = B * H * nq;
      const x = qkv.subarray(0, B * N * 3 * D), a = att.subarray(0, rows * N), g = dout.subarray(0, B * nq * D);
      // out = att·v: datt = dout·vᵀ; att = softmax(s): ds = att⊙(datt − Σ att⊙datt), kept in datt
      run('dattK', N, rows, [g, x, N, nq, H, hd], datt, false);
      const dot = run1('rowDotK', rows, [a, datt.subarray(0, rows * N), N]);
      const ds = new Float32Array(rows * N);
      run('dsK', N, rows, [a, datt.subarray(0, rows * N), dot, N], ds, false);
      datt.set(ds);
      // s = q·kᵀ·scale: dq, dk; and dv = attᵀ·dout — each added into its third of the qkv rows
      const scale = 1 / Math.sqrt(hd);
      const dq = new Float32Array(B * nq * D);
      run('dqK', D, B * nq, [ds, x, N, nq, H, hd, scale], dq, false);
      addRows(dqkv, dq, B, N, nq, D);
      const dk = new Float32Array(B * N * D);
      run('dkK', D, B * N, [ds, x, N, nq, H, hd, scale], dk, false);
      addInto(dqkv, dk, B * N, D, D);
      const dv = new Float32Array(B * N * D);
      run('dvK', D, B * N, [a, g, N, nq, H, hd], dv, false);
      addInto(dqkv, dv, B * N, D, 2 * D);
    },
  };
}

// dq (B·nq, D), for the first nq tokens of each image, added into the q third of dqkv's rows
function addRows(dqkv: Float, dq: Float32Array, B: number, N: number, nq: number, D: number): void {
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < nq; t++) {
      const o = (b * N + t) * 3 * D, i = (b * nq + t) * D;
      for (let c = 0; c < D; c++) dqkv[o + c] += dq[i + c];
    }
  }
}

// dqkv rows (n) gain src's row n in columns at…at+D
function addInto(dqkv: Float, src: Float32Array, rows: number, D: number, at: number): void {
  for (let n = 0; n < rows; n++) {
    const o = n * 3 * D + at, i = n * D;
    for (let c = 0; c < D; c++) dqkv[o + c] += src[i + c];
  }
}
