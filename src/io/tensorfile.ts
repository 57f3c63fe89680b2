// io/tensorfile.ts: tensors still in their file, read straight into where they will live. A checkpoint reader
// (io/safetensors.ts, io/torch.ts) checks the file's header and hands out one FileTensor per tensor (dtype, shape,
// the byte offset of its elements); readInto(dst, at) then reads the elements with positional reads into dst, a
// parameter buffer (in the wasm backend's memory where the model lives there): F32 into float32 and F64 into
// float64 land directly (the one copy, from the OS's page cache), and so does F16 into a wasm memory's float32
// (widened there in place, wasm SIMD); other F16/BF16 (widened: wasm SIMD for F16), and F32 <-> F64, pass through
// one small reused chunk. Nothing file-sized is ever allocated besides the destination.

import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { DecomcamError, fail } from '../errors.js';
import { widenInto } from './half.js';
import { SIMD_CHUNK, simdHalfInput, simdWidenerFor, simdWidenHalf } from './half_wasm.js';
import type { StDType } from './safetensors.js';

/** Random access to the bytes of a file or a buffer: size, and `len` bytes at `at` (which the caller bounds-checks). */
export interface ByteSource {
  readonly size: number;
  bytes(at: number, len: number): Uint8Array; // a view for a buffer, a fresh array for a file
}

/** A buffer as a ByteSource (bytes() gives views, no copies). */
export function memorySource(buf: Uint8Array): ByteSource {
  return { size: buf.length, bytes: (at, len) => buf.subarray(at, at + len) };
}

/** One tensor of an open checkpoint, not read yet: readInto puts its numel(shape) elements at dst[at…]. */
export interface FileTensor {
  dtype: StDType;   // as stored (torch's dtypes are named as safetensors' are)
  shape: number[];
  readInto(dst: Float32Array | Float64Array, at: number): void;
}

/** Whether a tensor's dtype reads into float32 / float64 (the dtypes a model's parameters may come from). */
export function isFloatDType(dtype: string): boolean {
  return dtype === 'F32' || dtype === 'F64' || dtype === 'F16' || dtype === 'BF16';
}

// One positional read asks for at most this much (readSync's length is a 32-bit int); conversions go through
// a chunk of CHUNK bytes, small enough to stay in cache between the read and the conversion.
const MAX_READ = 1 << 30;
const CHUNK = 1 << 20;
let chunk: ArrayBuffer | null = null;

/** How a TensorFile names its file in messages: "safetensors PATH: is a directory, expected a .safetensors file". */
export interface FileWords {
  what: string;      // before the path in a check's message ("safetensors")
  expected: string;  // what it should have been ("a .safetensors file")
  readAs: string;    // in "cannot read <readAs> PATH: ENOENT" ("safetensors file")
}

/**
 * An open regular file, read by offset. Opened only after stat says it is a regular file (a FIFO would block
 * the open, /dev/zero never end) of at most maxBytes; close() when done.
 */
export class TensorFile implements ByteSource {
  readonly size: number;
  private fd: number | null;

  constructor(readonly path: string, words: FileWords, maxBytes: number) {
    let fd: number | null = null;
    const notRegular = (isDir: boolean): never =>
      fail(`${words.what} ${path}: is ${isDir ? 'a directory' : 'not a regular file'}, expected ${words.expected}`);
    try {
      const st = statSync(path);
      if (!st.isFile()) notRegular(st.isDirectory());
      if (st.size > maxBytes) fail(`${words.what} ${path}: ${st.size} bytes, larger than the ${maxBytes} bytes this reader loads`);
      fd = openSync(path, 'r');
      const st2 = fstatSync(fd);
      if (!st2.isFile()) notRegular(st2.isDirectory());
      this.size = st2.size;
    } catch (e) {
      if (fd !== null) closeSync(fd);
      if (e instanceof DecomcamError) throw e;
      fail(`cannot read ${words.readAs} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    this.fd = fd;
  }

  // Fills `into` with the bytes at `at` (a file that shrank since it was opened is an error, not a short read).
  read(at: number, into: Uint8Array): void {
    if (this.fd === null) fail(`${this.path}: read after close`, 'runtime');
    let done = 0;
    while (done < into.length) {
      let n: number;
      try {
        n = readSync(this.fd, into, done, Math.min(MAX_READ, into.length - done), at + done);
      } catch (e) {
        fail(`cannot read ${this.path} at byte ${at + done}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      if (n === 0) fail(`${this.path} ended at byte ${at + done}, before the ${at + into.length} its header promised (did it change while being read?)`);
      done += n;
    }
  }

  bytes(at: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    this.read(at, out);
    return out;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/**
 * A contiguous tensor whose elements start at byte `offset` of `file` (bounds already checked by its reader).
 */
export function fileTensor(file: TensorFile, dtype: StDType, shape: number[], offset: number, name: string): FileTensor {
  return {
    dtype,
    shape,
    readInto(dst, at) {
      let n = 1;
      for (const d of shape) n *= d;
      const direct = (dtype === 'F32' && dst instanceof Float32Array) || (dtype === 'F64' && dst instanceof Float64Array);
      if (direct) { // the one copy: page cache -> dst
        file.read(offset, new Uint8Array(dst.buffer, dst.byteOffset + at * dst.BYTES_PER_ELEMENT, n * dst.BYTES_PER_ELEMENT));
        return;
      }
      if (!isFloatDType(dtype)) fail(`tensor "${name}" in ${file.path} has dtype ${dtype}, expected a float dtype (F32, F16, BF16, F64)`);
      const inPlace = dtype === 'F16' && dst instanceof Float32Array ? simdWidenerFor(dst) : null;
      if (inPlace) { // F16 -> float32 in the destination itself (a wasm backend's memory): see widenInPlace
        widenInPlace(file, offset, n, dst as Float32Array, at, inPlace);
        return;
      }
      const input = dtype === 'F16' && dst instanceof Float32Array ? simdHalfInput() : null;
      if (input) { // F16 -> float32 in wasm SIMD: each chunk read into the widener's own input area
        const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
        for (let i = 0; i < n; i += SIMD_CHUNK) {
          const m = Math.min(SIMD_CHUNK, n - i);
          file.read(offset + 2 * i, bytes.subarray(0, 2 * m));
          simdWidenHalf(m, dst as Float32Array, at + i);
        }
        return;
      }
      const size = dtype === 'F64' ? 8 : dtype === 'F32' ? 4 : 2;
      chunk ??= new ArrayBuffer(CHUNK);
      const per = CHUNK / size;
      for (let i = 0; i < n; i += per) {
        const m = Math.min(per, n - i);
        file.read(offset + i * size, new Uint8Array(chunk, 0, m * size));
        convertInto(dtype, chunk, m, dst, at + i);
      }
    },
  };
}

// n F16 elements at byte `offset` of `file` into float32 dst[at…], dst in a wasm memory whose SIMD widener is
// `widen`: a chunk of m halves at a time is read into the upper half of its own destination (bytes 2m..4m of
// the 4m its floats take) and widened forward, in place. Float k overwrites halves 2k−m and 2k−m+1, always ones
// already read (k < m); the SIMD step loads 8 halves before it stores their 8 floats, so its widest overwrite,
// half 2k−m+15 at k = m8−8, is below the next step's first; the last m − m8 (< 8) are copied out, then widened.
// No chunk copy: the file's bytes land once, in their destination, as an F32 tensor's do.
function widenInPlace(file: TensorFile, offset: number, n: number, dst: Float32Array, at: number,
  widen: (src: number, dst: number, n: number) => void): void {
  const base = dst.byteOffset + 4 * at; // byte address of dst[at] in the memory
  for (let i = 0; i < n; i += SIMD_CHUNK) {
    const m = Math.min(SIMD_CHUNK, n - i);
    const out = base + 4 * i;
    file.read(offset + 2 * i, new Uint8Array(dst.buffer, out + 2 * m, 2 * m));
    const m8 = m & ~7;
    widen(out + 2 * m, out, m8);
    if (m8 < m) { // the last few halves: copied into the widener's own input area first, then widened from there
      const h = new Uint16Array(dst.buffer, out + 2 * m, m);
      const input = simdHalfInput();
      if (input) {
        input.set(h.subarray(m8, m));
        simdWidenHalf(m - m8, dst, at + i + m8);
      } else {
        widenInto('F16', h.slice(m8, m), dst, at + i + m8);
      }
    }
  }
}

// m elements of a float dtype at the start of src, into dst[at…] (F16/BF16 widened exactly, F64 -> float32 rounded
// to nearest as a typed-array store does).
function convertInto(dtype: StDType, src: ArrayBuffer, m: number, dst: Float32Array | Float64Array, at: number): void {
  if (dtype === 'F16' || dtype === 'BF16') widenInto(dtype, new Uint16Array(src, 0, m), dst, at);
  else if (dtype === 'F32') dst.set(new Float32Array(src, 0, m), at);
  else dst.set(new Float64Array(src, 0, m), at);
}
