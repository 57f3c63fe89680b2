// kernels/choose.ts: picking a backend by name, or `auto`: every registered backend that can run here is
// checked on a small matmul against the reference and timed on a GEMM of a ViT's shape class; the fastest
// correct one wins. The result carries a one-line note saying what was chosen and why, for tools/ to print
// on stderr (the library itself prints nothing).

import { fail } from '../errors.js';
import { BACKENDS, getBackend, tsBackend } from './backend.js';
import type { Backend } from './backend.js';
import { createWasmBackend } from './wasm/backend.js';

export interface BackendChoice {
  backend: Backend;
  note: string; // e.g. "backend: wasm (WebAssembly SIMD, 2 threads), chosen by auto: wasm 31 GFLOP/s, ts 2.4, …"
}

export interface ChooseOptions {
  threads?: number; // the wasm backend's threads (default: min(2, cores))
}

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

function backendNamed(name: string, options: ChooseOptions): Backend {
  if (name === 'wasm' && options.threads !== undefined) return createWasmBackend({ threads: options.threads });
  return getBackend(name);
}

// A backend by name ('auto' included); an unavailable one is an error that lists those available.
export function chooseBackend(name: string, options: ChooseOptions = {}): BackendChoice {
  if (name === 'auto') return chooseFastest(options);
  const be = backendNamed(name, options);
  const why = unavailable(be);
  if (why) {
    const ok = Object.keys(BACKENDS).filter((n) => !unavailable(BACKENDS[n]));
    fail(`backend "${name}" is not available here: ${why} (available: ${ok.join(', ')}, or auto)`, 'usage');
  }
  return { backend: be, note: `backend: ${describe(be)}` };
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
  tsBackend.matmul(ref, inp, w, b, M, K, N);
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
  for (const name of Object.keys(BACKENDS)) {
    const be = backendNamed(name, options);
    const why = unavailable(be);
    if (why) {
      skipped.push(`${name}: ${why}`);
      continue;
    }
    let rate: number;
    try {
      const err = checkMatmul(be);
      if (!(err <= CHECK_TOL)) {
        skipped.push(`${name}: its matmul is off by ${err.toExponential(1)} relative (tolerance ${CHECK_TOL})`);
        continue;
      }
      rate = timeMatmul(be);
    } catch (e) {
      skipped.push(`${name}: ${e instanceof Error ? e.message : String(e)}`);
      continue;
    }
    rates.push(`${name} ${rate.toFixed(rate < 10 ? 2 : 1)}`);
    if (rate > bestRate) {
      best = be;
      bestRate = rate;
    }
  }
  const note = `backend: ${describe(best)}, chosen by auto (GFLOP/s on a ${TIME.M}×${TIME.K}×${TIME.N} matmul: `
    + `${rates.join(', ')})${skipped.length ? `; not used: ${skipped.join('; ')}` : ''}`;
  return { backend: best, note };
}
