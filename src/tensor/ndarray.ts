// tensor/ndarray.ts: conversion between our Tensor and scijs `ndarray` for users who hold ndarrays.
// A contiguous row-major ndarray (offset 0 or not) shares its buffer with the Tensor: no copy.
// Strided or transposed views are copied once, into row-major order. The types are our own structural ones,
// so a user's compiler needs no @types/ndarray to read ours.

import ndarray from 'ndarray';
import { fail } from '../errors.js';
import { numel, tensor, type Float, type Tensor } from './tensor.js';

/** What `fromNdarray` reads of a scijs ndarray: `data` seen through `shape`, `stride` (in elements) and `offset`.
 *  Any `ndarray(...)` has these, so it is accepted as it is (no @types/ndarray needed). */
export interface NdarrayLike {
  readonly data: unknown;
  readonly shape: readonly number[];
  readonly stride: readonly number[];
  readonly offset: number;
}

/** A scijs ndarray over a Tensor's data (it is a real `ndarray` at run time: `transpose`, `pick`, `lo`, `hi` …
 *  are there too; cast to @types/ndarray's `NdArray<Float32Array>` to use them typed). */
export interface NdarrayView<D extends Float = Float> extends NdarrayLike {
  readonly data: D;
  readonly shape: number[];
  readonly stride: number[];
  readonly size: number;            // number of elements
  get(...index: number[]): number;  // the element at (i0, i1, …)
  set(...indexThenValue: number[]): number;
}

/** A view of `t` as a scijs ndarray, sharing its buffer (no copy). */
export function toNdarray(t: Tensor): NdarrayView<Float> {
  return ndarray(t.data, t.shape);
}

/** A Tensor from an ndarray of float32/float64: shares the buffer when row-major contiguous, copies otherwise. */
export function fromNdarray(a: NdarrayLike): Tensor {
  const data: unknown = a.data;
  if (!(data instanceof Float32Array) && !(data instanceof Float64Array)) {
    fail('fromNdarray: the ndarray must hold a Float32Array or a Float64Array');
  }
  const shape = a.shape.slice();
  const n = numel(shape);
  // Row-major strides for this shape.
  const rowMajor: number[] = new Array(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) { rowMajor[i] = s; s *= shape[i]; }
  const contiguous = a.stride.every((st, i) => st === rowMajor[i] || shape[i] === 1);
  if (contiguous) return tensor(data.subarray(a.offset, a.offset + n), shape);
  // General case: walk the view in row-major order.
  const out = data instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
  const idx = new Array(shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    let p = a.offset;
    for (let d = 0; d < shape.length; d++) p += idx[d] * a.stride[d];
    out[k] = data[p];
    for (let d = shape.length - 1; d >= 0; d--) { if (++idx[d] < shape[d]) break; idx[d] = 0; }
  }
  return tensor(out, shape);
}
