// nn/linear.ts: a fully connected layer, as torch.nn.Linear: out = inp · wᵀ + b, w stored (out × in).
// M = rows (images × tokens), K = input features, N = output features. Arrays are flat and row-major.
// linearForward / linearBackward are the reference: plain loops, sums in float64 over k (or m) in increasing
// order, rounded once on store; tiled 4 × 4 (16 running sums share 8 loads per step) without changing any
// sum's order. linearOn / linearBackwardOn run them on a backend's GEMM (kernels/wasm, kernels/gpujs).

import type { Backend } from '../kernels/backend.js';
import type { Float } from '../tensor/tensor.js';

/**
 * Linear forward (reference loops): out (M,N) = inp (M,K) · wᵀ (w stored (N,K)) + b (N, or null), sums in float64.
 */
export function linearForward(
  out: Float,                           // (M,N)
  inp: Float, w: Float, b: Float | null, // (M,K) (N,K) (N)
  M: number, K: number, N: number): void {
  const M4 = M - (M % 4);
  const N4 = N - (N % 4);
  for (let m = 0; m < M4; m += 4) {
    const i0 = m * K, i1 = i0 + K, i2 = i1 + K, i3 = i2 + K;
    for (let n = 0; n < N4; n += 4) {
      const w0 = n * K, w1 = w0 + K, w2 = w1 + K, w3 = w2 + K;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      let s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
      for (let k = 0; k < K; k++) {
        const a0 = inp[i0 + k], a1 = inp[i1 + k], a2 = inp[i2 + k], a3 = inp[i3 + k];
        const b0 = w[w0 + k], b1 = w[w1 + k], b2 = w[w2 + k], b3 = w[w3 + k];
        s00 += a0 * b0; s01 += a0 * b1; s02 += a0 * b2; s03 += a0 * b3;
        s10 += a1 * b0; s11 += a1 * b1; s12 += a1 * b2; s13 += a1 * b3;
        s20 += a2 * b0; s21 += a2 * b1; s22 += a2 * b2; s23 += a2 * b3;
        s30 += a3 * b0; s31 += a3 * b1; s32 += a3 * b2; s33 += a3 * b3;
      }
      const c0 = b ? b[n] : 0, c1 = b ? b[n + 1] : 0, c2 = b ? b[n + 2] : 0, c3 = b ? b[n + 3] : 0;
      let o = m * N + n;
      out[o] = s00 + c0; out[o + 1] = s01 + c1; out[o + 2] = s02 + c2; out[o + 3] = s03 + c3; o += N;
      out[o] = s10 + c0; out[o + 1] = s11 + c1; out[o + 2] = s12 + c2; out[o + 3] = s13 + c3; o += N;
      out[o] = s20 + c0; out[o + 1] = s21 + c1; out[o + 2] = s22 + c2; out[o + 3] = s23 + c3; o += N;
      out[o] = s30 + c0; out[o + 1] = s31 + c1; out[o + 2] = s32 + c2; out[o + 3] = s33 + c3;
    }
  }
  // edges: the rows below M4 (all columns) and the columns right of N4 (rows above M4), one dot at a time
  for (let m = 0; m < M; m++) {
    for (let n = m < M4 ? N4 : 0; n < N; n++) {
      let s = 0;
      for (let k = 0, i = m * K, j = n * K; k < K; k++) s += inp[i + k] * w[j + k];
      out[m * N + n] = s + (b ? b[n] : 0);
    }
  }
}

/**
 * forward was out[m,n] = Σ_k inp[m,k]·w[n,k] + b[n], so
 *   dinp[m,k] += Σ_n dout[m,n]·w[n,k],   dw[n,k] += Σ_m dout[m,n]·inp[m,k],   db[n] += Σ_m dout[m,n]
 */
export function linearBackward(
  dinp: Float | null, dw: Float | null, db: Float | null, // ADDED into; null skips
  dout: Float, inp: Float, w: Float,                      // (M,N) (M,K) (N,K)
  M: number, K: number, N: number): void {
  if (dinp) addProductNN(dinp, dout, w, M, N, K);
  if (dw) addProductTN(dw, dout, inp, M, N, K);
  if (db) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let m = 0; m < M; m++) s += dout[m * N + n];
      db[n] += s;
    }
  }
}

/**
 * linearForward on a backend: its GEMM (tsBackend's is linearForward itself; another matches it within the
 * float32 tolerance it states).
 */
export function linearOn(
  be: Backend, out: Float, inp: Float, w: Float, b: Float | null, M: number, K: number, N: number): void {
  be.matmul(out, inp, w, b, M, K, N);
}

/**
 * linearBackward on a backend, likewise.
 */
export function linearBackwardOn(
  be: Backend, dinp: Float | null, dw: Float | null, db: Float | null, dout: Float, inp: Float, w: Float,
  M: number, K: number, N: number): void {
  be.matmulBackward(dinp, dw, db, dout, inp, w, M, K, N);
}

// c (M,K) += a (M,N) · b (N,K); the sum over n runs in increasing order.
function addProductNN(c: Float, a: Float, b: Float, M: number, N: number, K: number): void {
  const M4 = M - (M % 4);
  const K4 = K - (K % 4);
  for (let m = 0; m < M4; m += 4) {
    const a0 = m * N, a1 = a0 + N, a2 = a1 + N, a3 = a2 + N;
    for (let k = 0; k < K4; k += 4) {
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      let s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
      for (let n = 0, j = k; n < N; n++, j += K) {
        const x0 = a[a0 + n], x1 = a[a1 + n], x2 = a[a2 + n], x3 = a[a3 + n];
        const y0 = b[j], y1 = b[j + 1], y2 = b[j + 2], y3 = b[j + 3];
        s00 += x0 * y0; s01 += x0 * y1; s02 += x0 * y2; s03 += x0 * y3;
        s10 += x1 * y0; s11 += x1 * y1; s12 += x1 * y2; s13 += x1 * y3;
        s20 += x2 * y0; s21 += x2 * y1; s22 += x2 * y2; s23 += x2 * y3;
        s30 += x3 * y0; s31 += x3 * y1; s32 += x3 * y2; s33 += x3 * y3;
      }
      let o = m * K + k;
      c[o] += s00; c[o + 1] += s01; c[o + 2] += s02; c[o + 3] += s03; o += K;
      c[o] += s10; c[o + 1] += s11; c[o + 2] += s12; c[o + 3] += s13; o += K;
      c[o] += s20; c[o + 1] += s21; c[o + 2] += s22; c[o + 3] += s23; o += K;
      c[o] += s30; c[o + 1] += s31; c[o + 2] += s32; c[o + 3] += s33;
    }
  }
  for (let m = 0; m < M; m++) {
    for (let k = m < M4 ? K4 : 0; k < K; k++) {
      let s = 0;
      for (let n = 0; n < N; n++) s += a[m * N + n] * b[n * K + k];
      c[m * K + k] += s;
    }
  }
}

// c (N,K) += a (M,N)ᵀ · b (M,K); the sum over m runs in increasing order.
function addProductTN(c: Float, a: Float, b: Float, M: number, N: number, K: number): void {
  const N4 = N - (N % 4);
  const K4 = K - (K % 4);
  for (let n = 0; n < N4; n += 4) {
    for (let k = 0; k < K4; k += 4) {
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      let s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
      for (let m = 0, i = n, j = k; m < M; m++, i += N, j += K) {
        const x0 = a[i], x1 = a[i + 1], x2 = a[i + 2], x3 = a[i + 3];
        const y0 = b[j], y1 = b[j + 1], y2 = b[j + 2], y3 = b[j + 3];
        s00 += x0 * y0; s01 += x0 * y1; s02 += x0 * y2; s03 += x0 * y3;
        s10 += x1 * y0; s11 += x1 * y1; s12 += x1 * y2; s13 += x1 * y3;
        s20 += x2 * y0; s21 += x2 * y1; s22 += x2 * y2; s23 += x2 * y3;
        s30 += x3 * y0; s31 += x3 * y1; s32 += x3 * y2; s33 += x3 * y3;
      }
      let o = n * K + k;
      c[o] += s00; c[o + 1] += s01; c[o + 2] += s02; c[o + 3] += s03; o += K;
      c[o] += s10; c[o + 1] += s11; c[o + 2] += s12; c[o + 3] += s13; o += K;
      c[o] += s20; c[o + 1] += s21; c[o + 2] += s22; c[o + 3] += s23; o += K;
      c[o] += s30; c[o + 1] += s31; c[o + 2] += s32; c[o + 3] += s33;
    }
  }
  for (let n = 0; n < N; n++) {
    for (let k = n < N4 ? K4 : 0; k < K; k++) {
      let s = 0;
      for (let m = 0; m < M; m++) s += a[m * N + n] * b[m * K + k];
      c[n * K + k] += s;
    }
  }
}
