// tensor/rng.ts: a seeded, counter-based generator that Python computes bit for bit the same way
// (reference/seeded.py), so large test weights (a full ViT-B/16) are generated, never committed.
// value(seed, name, i) = scale · (2·u − 1),  u = (hash32(key + i) + 0.5) / 2^32,  key = fnv1a(name) ^ hash32(seed)
// All arithmetic is uint32 (Math.imul, >>>) then float64; the float32 cast rounds to nearest even,
// as numpy's astype(float32) does.

import { allocFloat, type DType, type Float } from './tensor.js';

/**
 * lowbias32 (C. Wellons): a bijective avalanche hash of a 32-bit integer.
 */
export function hash32(x: number): number {
  x = x >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/**
 * FNV-1a over the UTF-8 bytes of a name: gives each tensor its own stream.
 */
export function fnv1a32(name: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(name)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The uint32 key of the named stream under seed: fnv1a32(name) ^ hash32(seed). */
export function streamKey(seed: number, name: string): number {
  return (fnv1a32(name) ^ hash32(seed)) >>> 0;
}

/**
 * n values uniform in (−scale, scale) plus `offset` (e.g. offset 1 for layer-norm weights).
 */
export function seededUniform(
  seed: number, name: string, n: number, scale: number, offset = 0, dtype: DType = 'float32'): Float {
  const out = allocFloat(dtype, n);
  const key = streamKey(seed, name);
  for (let i = 0; i < n; i++) {
    const u = (hash32((key + i) >>> 0) + 0.5) / 4294967296;
    out[i] = offset + scale * (2 * u - 1);
  }
  return out;
}

/**
 * A small sequential generator (mulberry32) for tests that need a stream of numbers in TS only.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
