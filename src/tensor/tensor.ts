// tensor/tensor.ts: the library's one tensor type — a flat row-major typed array plus its shape.
// float32 is the working precision; float64 is the oracle mode (same code, wider array).
// Nothing here copies unless its name says so (`clone`, `toFloat64`, `toFloat32`).

import { fail } from '../errors.js';

/** A flat array of float32 (the working precision) or float64 (the oracle mode) values. */
export type Float = Float32Array | Float64Array;
/** The element type of a Float: 'float32' or 'float64'. */
export type DType = 'float32' | 'float64';

/** The library's tensor: a flat row-major array and its shape, e.g. [B, N, D]. */
export interface Tensor {
  data: Float;     // row-major, length = product of shape
  shape: number[]; // e.g. [B, N, D]
}

/**
 * Number of elements of a shape ([] is a scalar: 1 element).
 */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

/** The dtype of an array: 'float64' for a Float64Array, else 'float32'. */
export function dtypeOf(a: Float): DType {
  return a instanceof Float64Array ? 'float64' : 'float32';
}

/**
 * An uninitialised-looking but zero-filled array of the given dtype.
 */
export function allocFloat(dtype: DType, n: number): Float {
  return dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
}

/**
 * Wrap an existing array (no copy); the length must match the shape.
 */
export function tensor(data: Float, shape: readonly number[]): Tensor {
  for (const s of shape) {
    if (!Number.isInteger(s) || s < 0) fail(`tensor shape [${shape.join(', ')}] is not a list of non-negative integers`);
  }
  if (data.length !== numel(shape)) {
    fail(`tensor data has ${data.length} elements but shape [${shape.join(', ')}] needs ${numel(shape)}`);
  }
  return { data, shape: [...shape] };
}

/** A zero-filled tensor of the given shape (dtype default 'float32'). */
export function zeros(shape: readonly number[], dtype: DType = 'float32'): Tensor {
  return tensor(allocFloat(dtype, numel(shape)), shape);
}

/**
 * Same data, new shape (no copy). One dimension may be -1 (inferred).
 */
export function reshape(t: Tensor, shape: readonly number[]): Tensor {
  const known = shape.filter((s) => s !== -1);
  const inferred = shape.length - known.length;
  if (inferred > 1) fail(`reshape to [${shape.join(', ')}]: at most one dimension may be -1`);
  const full = inferred === 1 ? shape.map((s) => (s === -1 ? t.data.length / numel(known) : s)) : [...shape];
  return tensor(t.data, full);
}

/** A copy of the tensor: new data of the same dtype, same shape. */
export function clone(t: Tensor): Tensor {
  return { data: t.data.slice(), shape: [...t.shape] };
}

/**
 * Copies into a new dtype (always a copy, even when the dtype already matches).
 */
export function toFloat64(t: Tensor): Tensor {
  return { data: Float64Array.from(t.data), shape: [...t.shape] };
}
/** A float32 copy of the tensor (always a copy). */
export function toFloat32(t: Tensor): Tensor {
  return { data: Float32Array.from(t.data), shape: [...t.shape] };
}
/** A copy of the tensor in the given dtype (always a copy). */
export function astype(t: Tensor, dtype: DType): Tensor {
  return dtype === 'float64' ? toFloat64(t) : toFloat32(t);
}

/** True when two shapes have the same rank and sizes. */
export function shapeEquals(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i]);
}

/** A shape as text, e.g. '[1, 3, 224, 224]', for messages. */
export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
