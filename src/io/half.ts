// io/half.ts: IEEE half (F16) and bfloat16 (BF16) <-> float32 conversions, as numpy/PyTorch do them.
// Widening is exact. Narrowing rounds to nearest, ties to even; overflow goes to ±Inf; NaN stays NaN.
// widenInto widens whole arrays (the loaders' F16/BF16 path): wasm SIMD for F16 (io/half_wasm.ts), else a table.

import { SIMD_CHUNK, simdHalfInput, simdWidenHalf } from './half_wasm.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Widens an IEEE half (F16) bit pattern (a 16-bit integer) to its exact number value. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;                  // zero and subnormals
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Narrows a number to the bit pattern of the nearest IEEE half (F16), ties to even; overflow gives ±Inf. */
export function floatToHalf(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;                           // overflow -> Inf
  if (e <= 0) {                                                  // subnormal half (or zero)
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;     // may carry into the exponent: still right
  return sign | half;
}

/** Widens a bfloat16 (BF16) bit pattern (a 16-bit integer) to its exact number value. */
export function bf16ToFloat(b: number): number {
  u32[0] = (b & 0xffff) << 16;
  return f32[0];
}

/** Narrows a number to the bit pattern of the nearest bfloat16 (BF16), ties to even; NaN stays NaN. */
export function floatToBf16(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff)) return ((bits >>> 16) | 0x40) & 0xffff; // NaN
  const rounded = bits + 0x7fff + ((bits >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

// ---- widening whole arrays ----------------------------------------------------------------------------------

// All 65536 half / bfloat16 values as float32, 256 KiB each: widening is one table read. F16's come from
// halfToFloat (every NaN the one quiet NaN); BF16's are the bits shifted, which bf16ToFloat gives up to NaN
// payloads (a number passing through a float64 may have its signalling NaN quieted, depending on the JIT).
let halfTable: Float32Array | null = null;
let bf16Table: Float32Array | null = null;

/** The float32 value of every 16-bit pattern of F16 or BF16, indexed by the pattern. */
export function wideningTable(dtype: 'F16' | 'BF16'): Float32Array {
  if (dtype === 'F16') {
    if (!halfTable) { halfTable = new Float32Array(65536); for (let i = 0; i < 65536; i++) halfTable[i] = halfToFloat(i); }
    return halfTable;
  }
  if (!bf16Table) { // bfloat16 is float32's top half: the bits shifted, as torch widens it (a signalling NaN stays one)
    bf16Table = new Float32Array(65536);
    const bits = new Uint32Array(bf16Table.buffer);
    for (let i = 0; i < 65536; i++) bits[i] = i << 16;
  }
  return bf16Table;
}

/**
 * dst[at + i] = the value of F16/BF16 pattern src[i], for every i: exact, and bit for bit the table's (above).
 * F16 into float32 runs in wasm SIMD where the engine has it; otherwise the
 * bits are copied from the table (into float32 two elements a step).
 */
export function widenInto(dtype: 'F16' | 'BF16', src: Uint16Array, dst: Float32Array | Float64Array, at: number): void {
  const input = dtype === 'F16' && dst instanceof Float32Array ? simdHalfInput() : null;
  if (input) { // wasm SIMD (io/half_wasm.ts), a chunk at a time
    for (let i = 0; i < src.length; i += SIMD_CHUNK) {
      const m = Math.min(SIMD_CHUNK, src.length - i);
      input.set(src.subarray(i, i + m));
      simdWidenHalf(m, dst as Float32Array, at + i);
    }
    return;
  }
  const table = wideningTable(dtype);
  if (dst instanceof Float64Array) {
    for (let i = 0; i < src.length; i++) dst[at + i] = table[src[i]];
    return;
  }
  const bits = new Uint32Array(table.buffer);
  const out = new Uint32Array(dst.buffer, dst.byteOffset + 4 * at, src.length);
  if (src.byteOffset % 4 !== 0) { // (a misaligned source cannot be read two halves at a time)
    for (let i = 0; i < src.length; i++) out[i] = bits[src[i]];
    return;
  }
  const pairs = src.length >> 1;
  widenPairs(new Uint32Array(src.buffer, src.byteOffset, pairs), bits, out);
  if (src.length & 1) out[src.length - 1] = bits[src[src.length - 1]];
}

// out[2j], out[2j+1] = the table's bits for the low and high halves of h2[j] (little-endian: low is first).
function widenPairs(h2: Uint32Array, bits: Uint32Array, out: Uint32Array): void {
  for (let j = 0, i = 0; j < h2.length; j++, i += 2) {
    const w = h2[j];
    out[i] = bits[w & 0xffff];
    out[i + 1] = bits[w >>> 16];
  }
}
