// kernels/choose.ts: picking a backend by name, or `auto`: every backend that can run here is checked on a
// small matmul against the reference and timed on a GEMM of a ViT's shape class; the fastest correct one
// wins (a backend that cannot run here, gpu.js not installed included, is skipped with its reason). The
// result carries a one-line note saying what was chosen and why, for tools/ to print on stderr (the library
// itself prints nothing). defaultBackend() is what loadClip uses when given no backend: auto, once per process.

import { fail } from '../errors.js';
import { linearForward } from '../nn/linear.js';
import type { Backend, BackendName } from './backend.js';
import { tsBackend } from './reference.js';
import { BACKEND_NAMES, createBackend, isBackendName, type BackendOptions } from './registry.js';

/** A chosen backend and one line saying what was chosen and why (for logs; the library prints nothing). */
export interface BackendChoice {
  backend: Backend;
  note: string; // e.g. "backend: wasm (WebAssembly SIMD, 2 threads), chosen by auto (GFLOP/s …: wasm 31, ts 2.4, …)"
}

/** Options of chooseBackend: those of createBackend. */
export type ChooseOptions = BackendOptions;

const CHECK = { M: 9, K: 37, N: 21 };      // correctness probe: odd sizes hit every edge path
const TIME = { M: 64, K: 256, N: 384 };    // timing probe: ~12.6 MFLOP, a few ms on the slowest backend
const CHECK_TOL = 1e-4;                     // relative to max |ref|; float32 sums over 37 terms differ by ~1e-7

// Why a backend cannot be used here, or null.
function unavailable(be: Backend): string | null {
  return be.unavailable ? be.unavailable() : null;
}

function describe(be: Backend): string {
  return be.describe ? be.describe() : be.name;
}

/**
 * A new backend by name, or the fastest that works here for `'auto'`. A named backend that cannot run here
 * (say `gpu` without gpu.js installed) is a DecomcamError that says why and lists those that can. The caller
 * owns the backend and may close() it; the backends auto tried and did not choose are closed here.
 */
export function chooseBackend(name: BackendName | 'auto', options: ChooseOptions = {}): BackendChoice {
  if (name === 'auto') return chooseFastest(options);
  if (!isBackendName(name)) {
    fail(`backend "${String(name)}" is not available: choose one of ${BACKEND_NAMES.join(', ')}, or auto`, 'usage');
  }
  const be = createBackend(name, options);
  const why = unavailable(be);
  if (why) {
    be.close?.();
    const ok = BACKEND_NAMES.filter((n) => {
      const other = n === name ? null : createBackend(n, options);
      const can = other !== null && !unavailable(other);
      other?.close?.();
      return can;
    });
    fail(`backend "${name}" is not available here: ${why} (available: ${ok.join(', ')}, or auto)`, 'usage');
  }
  return { backend: be, note: `backend: ${describe(be)}` };
}

let fallback: BackendChoice | null = null;

/**
 * The backend loadClip uses when none is given: chooseBackend('auto'), chosen once per process and shared
 * (do not close it; pass your own backend to loadClip to control its lifetime). Its note says what and why.
 */
export function defaultBackend(): BackendChoice {
  return (fallback ??= chooseBackend('auto'));
}

function probe(seed: number, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(seed * 7919 + i * 0.37); // a fixed, non-degenerate pattern
  return a;
}

// Max |ours − ref| over max |ref| on the correctness probe.
function checkMatmul(be: Backend): number {
  const { M, K, N } = CHECK;
  const inp = probe(1, M * K), w = probe(2, N * K), b = probe(3, N);
  const ref = new Float32Array(M * N), out = new Float32Array(M * N);
  linearForward(ref, inp, w, b, M, K, N);
  be.matmul(out, inp, w, b, M, K, N);
  let scale = 0, d = 0;
  for (let i = 0; i < ref.length; i++) {
    scale = Math.max(scale, Math.abs(ref[i]));
    d = Math.max(d, Math.abs(out[i] - ref[i]));
  }
  return Number.isFinite(d) ? d / scale : Infinity;
}

// GFLOP/s of the best of three runs on the timing probe (the first run also warms up).
function timeMatmul(be: Backend): number {
  const { M, K, N } = TIME;
  const inp = probe(4, M * K), w = probe(5, N * K), out = new Float32Array(M * N);
  be.prepare?.(w, N, K);
  let best = Infinity;
  for (let r = 0; r < 4; r++) {
    const t0 = performance.now();
    be.matmul(out, inp, w, null, M, K, N);
    const dt = performance.now() - t0;
    if (r > 0) best = Math.min(best, dt);
  }
  return (2 * M * K * N) / (best * 1e6);
}

function chooseFastest(options: ChooseOptions): BackendChoice {
  const rates: string[] = [];
  const skipped: string[] = [];
  let best: Backend = tsBackend;
  let bestRate = -1;
  for (const name of BACKEND_NAMES) {
    const be = createBackend(name, options);
    const why = unavailable(be);
    let rate = -1;
    if (why) {
      skipped.push(`${name}: ${why}`);
    } else {
      try {
        const err = checkMatmul(be);
        if (err <= CHECK_TOL) rate = timeMatmul(be);
        else skipped.push(`${name}: its matmul is off by ${err.toExponential(1)} relative (tolerance ${CHECK_TOL})`);
      } catch (e) {
        skipped.push(`${name}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (rate >= 0) rates.push(`${name} ${rate.toFixed(rate < 10 ? 2 : 1)}`);
    if (rate > bestRate) {
      if (best !== be) best.close?.();
      best = be;
      bestRate = rate;
    } else {
      be.close?.();
    }
  }
  const note = `backend: ${describe(best)}, chosen by auto (GFLOP/s on a ${TIME.M}×${TIME.K}×${TIME.N} matmul: `
    + `${rates.join(', ')})${skipped.length ? `; not used: ${skipped.join('; ')}` : ''}`;
  return { backend: best, note };
}
