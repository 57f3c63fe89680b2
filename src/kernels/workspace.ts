// kernels/workspace.ts: where a model's arrays come from. A backend with its own memory (Backend.alloc: the
// wasm backend's shared memory) hands out float32 arrays that its kernels read and write where they lie, with
// no copy per call; any other backend, and float64 (the oracle mode), gets plain typed arrays. A Workspace
// collects the arrays of one computation (a forward pass and what its backward reads) so that release() gives
// them back together; plain arrays are left to the garbage collector.

import { fail } from '../errors.js';
import { allocFloat, type DType, type Float } from '../tensor/tensor.js';
import type { Backend } from './backend.js';

/**
 * n zeros for a long-lived array (a model's parameters): in the backend's memory where it has one.
 */
export function allocOn(be: Backend, dtype: DType, n: number, zero = true): Float {
  return dtype === 'float32' && be.alloc ? be.alloc(n, zero) : allocFloat(dtype, n);
}

/**
 * The arrays of one computation (a forward pass and what its backward reads), taken from the backend's memory
 * where it has one, so release() returns them together.
 */
export class Workspace {
  private owned: Float32Array[] = []; // the arrays from be.alloc, for release()
  private done = false;

  constructor(readonly backend: Backend, readonly dtype: DType) {}

  // n zeros, owned by this workspace; zero false: any values (for an output written whole before it is read).
  alloc(n: number, zero = true): Float {
    if (this.done) fail('Workspace.alloc after release()', 'runtime');
    const arr = allocOn(this.backend, this.dtype, n, zero);
    if (arr instanceof Float32Array && this.backend.alloc) this.owned.push(arr);
    return arr;
  }

  // Gives every array back to the backend; none of them (nor any view of one) may be used afterwards.
  release(): void {
    for (const arr of this.owned) this.backend.free?.(arr);
    this.owned = [];
    this.done = true;
  }

  get released(): boolean {
    return this.done;
  }
}
