// test/half_inplace.test.js: F16 tensors read into a wasm backend's memory are widened in place there (io/tensorfile.ts
// widenInPlace, over io/half_wasm.ts's shared-memory widener): every one of the 65536 patterns, across several chunks
// and with a tail of fewer than 8, at an odd destination offset, gives the bits halfToFloat gives stored into a
// Float32Array (the table path's), and nothing beside the destination is touched; WIDEN_SHARED_WAT assembles to its bytes.
import test from 'tape';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import wabtInit from 'wabt';
import { openSafetensors } from '../dist/io/safetensors.js';
import { halfToFloat } from '../dist/io/half.js';
import { SIMD_CHUNK, simdWidenerFor, WIDEN_SHARED_WAT, WIDEN_SHARED_WASM } from '../dist/io/half_wasm.js';
import { createWasmBackend } from '../dist/kernels/wasm/backend.js';

const tmp = mkdtempSync(join(tmpdir(), 'decomcam-half-inplace-'));
test.onFinish(() => rmSync(tmp, { recursive: true, force: true }));

// A safetensors file of one F16 tensor "x" holding `halves`.
function f16File(name, halves) {
  let header = JSON.stringify({ x: { dtype: 'F16', shape: [halves.length], data_offsets: [0, 2 * halves.length] } });
  header += ' '.repeat((8 - (header.length % 8)) % 8);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(header.length));
  const path = join(tmp, name);
  writeFileSync(path, Buffer.concat([head, Buffer.from(header), Buffer.from(halves.buffer, halves.byteOffset, 2 * halves.length)]));
  return path;
}

test('F16 into a wasm backend\'s memory: widened in place, bit for bit the table\'s, for every pattern, chunk and tail', (t) => {
  const be = createWasmBackend({ threads: 1 });
  if (be.unavailable()) { t.skip(`wasm backend: ${be.unavailable()}`); t.end(); return; }
  const want = new Float32Array(65536).map((_, i) => halfToFloat(i)); // the table's bits (every NaN the quiet one)
  const wantBits = new Uint32Array(want.buffer);
  for (const n of [1, 7, 8, 13, 65536, 2 * SIMD_CHUNK + 13]) {
    const halves = new Uint16Array(n).map((_, i) => (i * 40503) & 0xffff); // every pattern once per 65536 (40503 is odd)
    const ck = openSafetensors(f16File(`x${n}.safetensors`, halves));
    const at = 3;
    const dst = be.alloc(n + at + 5);
    t.ok(simdWidenerFor(dst) !== null, `n = ${n}: the destination is in a wasm memory with a widener`);
    dst.fill(-7);
    ck.tensors.get('x').readInto(dst, at);
    ck.close();
    const got = new Uint32Array(dst.buffer, dst.byteOffset, n + at + 5);
    let bad = -1;
    for (let i = 0; i < n && bad < 0; i++) if (got[at + i] !== wantBits[halves[i]]) bad = i;
    t.equal(bad, -1, `n = ${n}: every element has the table's bits`);
    t.ok([0, 1, 2, n + 3, n + 4, n + 5, n + 6, n + 7].every((i) => dst[i] === -7), `n = ${n}: the floats beside the destination are untouched`);
    be.free(dst);
  }
  t.equal(simdWidenerFor(new Float32Array(8)), null, 'an ordinary array has no in-place widener (it takes the chunked path)');
  be.close();
  t.end();
});

test('WIDEN_SHARED_WAT assembles (wabt) to the shipped WIDEN_SHARED_WASM bytes', async (t) => {
  const wabt = await wabtInit();
  const { buffer } = wabt.parseWat('widen_shared.wat', WIDEN_SHARED_WAT, { simd: true, threads: true }).toBinary({});
  t.equal(Buffer.from(buffer).toString('hex'), WIDEN_SHARED_WASM, 'the same bytes');
});
