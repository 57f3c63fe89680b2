// test/loading.test.js: the model loader's lean path (issue 20, point 6) gives the same bits as the whole-file
// readers: FileTensor.readInto (io/tensorfile.ts) of every float tensor of the dtype and PyTorch fixtures equals
// what readSafetensors / readTorchCheckpoint give, into float32 and float64; F16/BF16 widening (wasm SIMD and the
// table) equals halfToFloat / BF16's bits shifted for all 65536 patterns, and WIDEN_WAT assembles to the shipped bytes;
// a file that shrinks after it was opened is a clear error; loadClip leaves no file open; the wasm backend's
// alloc() still gives zeros when it reuses a block.
import test from 'tape';
import { copyFileSync, mkdtempSync, readdirSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import wabtInit from 'wabt';
import { openSafetensors, readSafetensors } from '../dist/io/safetensors.js';
import { openTorchCheckpoint, openTorchWeights, readTorchCheckpoint } from '../dist/io/torch.js';
import { bf16ToFloat, halfToFloat, widenInto } from '../dist/io/half.js';
import { simdHalfInput, WIDEN_WAT, WIDEN_WASM } from '../dist/io/half_wasm.js';
import { loadClip } from '../dist/clip/load.js';
import { createWasmBackend } from '../dist/kernels/wasm/backend.js';
import { DecomcamError } from '../dist/errors.js';
import { fixturesDir } from './helpers/compare.js';

const tmp = mkdtempSync(join(tmpdir(), 'decomcam-loading-'));

// The first index where two float arrays differ in their bits (as float64 values for float64, else float32 bits).
function firstDiff(a, b) {
  if (a.length !== b.length) return `length ${a.length} vs ${b.length}`;
  const bits = (x) => (x instanceof Float64Array ? new BigUint64Array(x.buffer, x.byteOffset, x.length) : new Uint32Array(Float32Array.from(x).buffer));
  const ua = bits(a), ub = bits(b);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return `[${i}] ${a[i]} vs ${b[i]}`;
  return null;
}

// Every float tensor of an opened checkpoint read into float32 and float64 (at an offset, in one shared buffer)
// against the whole-file reader's arrays.
function sameAsRead(t, opened, read, label) {
  let n = 0;
  for (const [name, ft] of opened.tensors) {
    const want = read.get(name).data;
    if (!(want instanceof Float32Array) && !(want instanceof Float64Array)) continue;
    for (const Arr of [Float32Array, Float64Array]) {
      const dst = new Arr(want.length + 3);
      ft.readInto(dst, 3);
      const d = firstDiff(dst.subarray(3), Arr.from(want));
      if (d) t.fail(`${label}: ${name} (${ft.dtype}) into ${Arr.name} differs at ${d}`);
    }
    n++;
  }
  t.ok(n > 0, `${label}: ${n} float tensors read into float32 and float64 equal the whole-file reader's bits`);
}

test('FileTensor.readInto gives the whole-file readers\' bits: every dtype fixture, torch.save, TorchScript, sharded HF', (t) => {
  const st = join(fixturesDir, 'dtypes.safetensors');
  const o = openSafetensors(st);
  sameAsRead(t, o, readSafetensors(st).tensors, 'dtypes.safetensors (F16, BF16, F32, F64)');
  o.close();
  for (const f of ['torch_tiny/state_dict.pt', 'torch_tiny/ViT-tiny.pt']) {
    const c = openTorchCheckpoint(join(fixturesDir, f));
    sameAsRead(t, c, readTorchCheckpoint(join(fixturesDir, f)).tensors, f);
    c.close();
  }
  const hf = openTorchWeights(join(fixturesDir, 'torch_tiny_hf'));
  const want = new Map();
  for (const f of ['pytorch_model-00001-of-00002.bin', 'pytorch_model-00002-of-00002.bin']) {
    for (const [k, v] of readTorchCheckpoint(join(fixturesDir, 'torch_tiny_hf', f)).tensors) want.set(k, v);
  }
  sameAsRead(t, hf, want, 'torch_tiny_hf (two bfloat16 shards)');
  hf.close();
  t.end();
});

test('F16/BF16 widening: all 65536 patterns, wasm SIMD and table, equal halfToFloat stored / the BF16 bits shifted', async (t) => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const want16 = new Float32Array(65536).map((_, i) => halfToFloat(i));
  // bfloat16 is float32's top half: widening shifts the bits (as torch does), bf16ToFloat's value up to NaN payloads
  const wantBf = new Float32Array(new Uint32Array(65536).map((_, i) => i << 16).buffer);
  t.ok(wantBf.every((x, i) => Object.is(x, bf16ToFloat(i)) || (Number.isNaN(x) && Number.isNaN(bf16ToFloat(i)))), 'BF16 bits << 16 is bf16ToFloat, value for value');
  t.ok(simdHalfInput() !== null, 'this engine has wasm SIMD, so the F16 -> float32 path below is the SIMD one');
  for (const [dtype, want] of [['F16', want16], ['BF16', wantBf]]) {
    const f32 = new Float32Array(65536 + 5);
    widenInto(dtype, all, f32, 5);
    t.equal(firstDiff(f32.subarray(5), want), null, `${dtype} -> float32: every pattern, bit for bit`);
    const odd = new Float32Array(65535); // a misaligned, odd-length source takes the element-wise table path
    widenInto(dtype, new Uint16Array(all.buffer, 2, 65535), odd, 0);
    t.equal(firstDiff(odd, want.subarray(1)), null, `${dtype} -> float32 from a misaligned source`);
    const f64 = new Float64Array(65536);
    widenInto(dtype, all, f64, 0);
    t.ok(f64.every((x, i) => Object.is(x, want[i]) || (Number.isNaN(x) && Number.isNaN(want[i]))), `${dtype} -> float64, value for value`);
  }
  const wabt = await wabtInit();
  const { buffer } = wabt.parseWat('widen.wat', WIDEN_WAT, { simd: true }).toBinary({});
  t.equal(Buffer.from(buffer).toString('hex'), WIDEN_WASM, 'WIDEN_WAT assembles (wabt) to the shipped WIDEN_WASM bytes');
});

test('a checkpoint that shrinks after it was opened is a clear error, and loadClip leaves no file open', (t) => {
  const f = join(tmp, 'shrinks.pt');
  copyFileSync(join(fixturesDir, 'torch_tiny', 'state_dict.pt'), f);
  const c = openTorchCheckpoint(f);
  truncateSync(f, 1000);
  const [name, ft] = [...c.tensors].at(-1);
  t.throws(() => ft.readInto(new Float32Array(ft.shape.reduce((a, b) => a * b, 1)), 0),
    (e) => e instanceof DecomcamError && /shrinks\.pt ended at byte \d+, before the \d+ its header promised/.test(e.message), `reading "${name}" names the file and the byte`);
  c.close();

  const fds = () => readdirSync('/proc/self/fd').length;
  const before = fds();
  loadClip(join(fixturesDir, 'torch_tiny', 'ViT-tiny.pt'), { dtype: 'float64' });
  loadClip(join(fixturesDir, 'torch_tiny_hf'), { dtype: 'float64' });
  t.throws(() => loadClip(join(fixturesDir, 'torch_hostile.pt')), /refusing global os\.system/, 'a refused file…');
  t.equal(fds(), before, '…and the loaded ones leave no file descriptor open');
  t.end();
});

test('wasm backend: alloc() gives zeros, for a fresh block and for a reused one', (t) => {
  const be = createWasmBackend({ threads: 1 });
  if (be.unavailable()) { t.skip(`wasm backend: ${be.unavailable()}`); t.end(); return; }
  const a = be.alloc(1000);
  t.ok(a.every((x) => x === 0), 'a fresh block is zero');
  a.fill(7);
  be.free(a);
  const b = be.alloc(1000);
  t.equal(b.byteOffset, a.byteOffset, 'the freed block is reused');
  t.ok(b.every((x) => x === 0), 'and cleared');
  be.close();
  t.end();
});
