// kernels/wasm/memory.ts: the one shared WebAssembly memory of the wasm backend, and a small allocator in it.
// Weights (packed once), activations the model allocates here, and per-call scratch all live in it, so both
// threads' kernels see them by address. Blocks are 64-byte aligned and keep at least 64 bytes after their end
// (a kernel reading a partial 8-wide panel may read up to 28 bytes past a row). Address 0 is never handed out:
// the kernels read 0 as "no bias".

import { fail } from '../../errors.js';
import { wasmApi } from './api.js';
import type { WasmMemoryObject } from './api.js';
import { noteWasmBuffer } from '../../io/half_wasm.js';

const PAGE = 65536;
const ALIGN = 64;
const MAX_PAGES = 65536; // 4 GiB, the most a 32-bit wasm memory can address

/**
 * The wasm backend's one shared WebAssembly memory (up to 4 GiB) and an allocator of 64-byte-aligned blocks in it.
 */
export class WasmMemory {
  readonly memory: WasmMemoryObject;
  // Every buffer object a view handed out by f32() was made over. V8 replaces a shared memory's buffer object
  // not only when this memory grows but whenever any shared memory of the process does (its grow broadcast
  // refreshes them all), so identity with the current memory.buffer cannot tell our arrays apart.
  private buffers = new Set<ArrayBufferLike>();
  private top = ALIGN;                          // first byte never allocated
  private used = new Map<number, number>();     // address → size of each live block
  private free: [number, number][] = [];        // [address, size] of released blocks, sorted by address

  constructor(initialBytes: number) {
    const pages = Math.max(1, Math.ceil(initialBytes / PAGE));
    this.memory = new wasmApi.Memory({ initial: pages, maximum: MAX_PAGES, shared: true });
  }

  // A block of at least `bytes` bytes (contents undefined); its address.
  alloc(bytes: number): number {
    return this.take(bytes).addr;
  }

  // A block of at least `bytes` bytes, the first `bytes` of them zero. Memory at or above `top` was never handed
  // out and a grown WebAssembly memory is zero-filled, so only a reused block is cleared: a fresh one is left
  // untouched (its pages are first written, and so faulted in, by whoever fills it: a model's loader).
  allocZeroed(bytes: number): number {
    const { addr, fresh } = this.take(bytes);
    if (!fresh) new Uint8Array(this.memory.buffer, addr, bytes).fill(0);
    return addr;
  }

  // A block from the free list, or a fresh one from the top (fresh: true).
  private take(bytes: number): { addr: number; fresh: boolean } {
    const size = Math.ceil((bytes + ALIGN) / ALIGN) * ALIGN; // + the tail a kernel may over-read
    for (let i = 0; i < this.free.length; i++) {
      const [addr, have] = this.free[i];
      if (have < size) continue;
      if (have === size) this.free.splice(i, 1);
      else this.free[i] = [addr + size, have - size];
      this.used.set(addr, size);
      return { addr, fresh: false };
    }
    const addr = this.top;
    const end = addr + size;
    if (end > MAX_PAGES * PAGE) {
      fail(`wasm backend: out of memory (asked for ${bytes} bytes with ${addr} in use; the limit is 4 GiB)`, 'runtime');
    }
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      // grow by at least a quarter, to keep the number of grows small
      const pages = Math.min(MAX_PAGES - have / PAGE, Math.max(Math.ceil((end - have) / PAGE), Math.ceil(have / PAGE / 4)));
      this.memory.grow(pages);
    }
    this.top = end;
    this.used.set(addr, size);
    return { addr, fresh: true };
  }

  // Gives a block back; neighbouring free blocks merge.
  release(addr: number): void {
    const size = this.used.get(addr);
    if (size === undefined) fail(`wasm backend: release of ${addr}, which is not an allocated block`, 'runtime');
    this.used.delete(addr);
    let i = 0;
    while (i < this.free.length && this.free[i][0] < addr) i++;
    this.free.splice(i, 0, [addr, size]);
    if (i + 1 < this.free.length && addr + size === this.free[i + 1][0]) {
      this.free[i][1] += this.free[i + 1][1];
      this.free.splice(i + 1, 1);
    }
    if (i > 0 && this.free[i - 1][0] + this.free[i - 1][1] === addr) {
      this.free[i - 1][1] += this.free[i][1];
      this.free.splice(i, 1);
    }
  }

  // A float32 view of n floats at addr (over the current buffer, so it sees any growth).
  f32(addr: number, n: number): Float32Array {
    const buffer = this.memory.buffer;
    this.buffers.add(buffer);
    noteWasmBuffer(buffer, this.memory); // (so the loaders can widen F16 in place here: io/half_wasm.ts)
    return new Float32Array(buffer, addr, n);
  }

  // The address of an array that lives in this memory, or −1 for one that does not.
  addressOf(arr: ArrayBufferView): number {
    return this.buffers.has(arr.buffer) ? arr.byteOffset : -1;
  }

  // The block an allocated view starts, or −1 (for release of views handed out by alloc).
  blockOf(arr: ArrayBufferView): number {
    const addr = this.addressOf(arr);
    return addr >= 0 && this.used.has(addr) ? addr : -1;
  }

  get bytesInUse(): number {
    let s = 0;
    for (const size of this.used.values()) s += size;
    return s;
  }
}
