// io/half_wasm.ts: F16 -> float32 widening in WebAssembly SIMD, eight halves a step, for the loaders' big arrays
// (a ViT-B/16 in fp16 is 150M halves: ~2.5x faster than the table loop in plain JS). Exact, and bit for bit
// io/half.ts's halfToFloat stored into a Float32Array: ±0, subnormals (as float32 bits times 2^112, exact), normals,
// ±Inf, and every NaN as the one quiet NaN 0x7fc00000. WIDEN_WAT below is the source; WIDEN_WASM its bytes as
// wabt assembles them (test/loading.test.js checks both that and all 65536 patterns). Where the engine has no
// wasm SIMD, simdHalfInput() is null and callers keep the table. WIDEN_SHARED_WAT is the same function over a
// wasm backend's shared memory (simdWidenerFor): the loaders widen F16 in place there (test/half_inplace.test.js).

// One 4-lane step: u holds four halves zero-extended to i32; the result is their float32 bits.
//   sign = (u << 16) & 0x80000000,  em = u & 0x7fff (exponent and mantissa)
//   em > 0x7c00: NaN -> 0x7fc00000;  em = 0x7c00: ±Inf;  else sign | f32bits(em << 13) · 2^112
const step = (u: string): string => `
        (local.set $sign (v128.and (i32x4.shl ${u} (i32.const 16)) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000)))
        (local.set $em (v128.and ${u} (v128.const i32x4 0x7fff 0x7fff 0x7fff 0x7fff)))
        (v128.bitselect
          (v128.bitselect
            (v128.const i32x4 0x7fc00000 0x7fc00000 0x7fc00000 0x7fc00000)
            (v128.or (local.get $sign) (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000))
            (i32x4.gt_s (local.get $em) (v128.const i32x4 0x7c00 0x7c00 0x7c00 0x7c00)))
          (v128.or (local.get $sign)
            (f32x4.mul (i32x4.shl (local.get $em) (i32.const 13)) (v128.const i32x4 0x77800000 0x77800000 0x77800000 0x77800000)))
          (i32x4.gt_s (local.get $em) (v128.const i32x4 0x7bff 0x7bff 0x7bff 0x7bff)))`;

/** The module's source: widen_f16(src, dst, n) widens n halves (n a multiple of 8) at byte src to float32 at dst. */
export const WIDEN_WAT = `(module
  (memory (export "memory") 48) ;; 3 MiB: CHUNK halves at 0, their CHUNK floats at 1 MiB
  (func (export "widen_f16") (param $src i32) (param $dst i32) (param $n i32)
    (local $end i32) (local $h v128) (local $sign v128) (local $em v128)
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $n) (i32.const 1))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (local.set $h (v128.load (local.get $src)))
        (v128.store (local.get $dst) ${step('(i32x4.extend_low_i16x8_u (local.get $h))')})
        (v128.store offset=16 (local.get $dst) ${step('(i32x4.extend_high_i16x8_u (local.get $h))')})
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
        (br $next)))))
`;

/**
 * The same function over an imported shared memory (a wasm backend's, where the parameters live): the loaders
 * widen F16 in place there, in the destination itself (simdWidenerFor).
 */
export const WIDEN_SHARED_WAT = WIDEN_WAT.replace(/\(memory \(export "memory"\) 48\)[^\n]*/, '(import "env" "memory" (memory 1 65536 shared))');

/** WIDEN_WAT assembled (wabt, features { simd: true }), as hex. */
export const WIDEN_WASM =
  '0061736d0100000001070160037f7f7f00030201000503010030071602066d656d6f7279020009776964656e5f66313600000aaa0301a703' +
  '02017f037b200020024101746a210302400340200020034f0d012000fd000400210420012004fda9014110fdab01fd0c0000008000000080' +
  '0000008000000080fd4e21052004fda901fd0cff7f0000ff7f0000ff7f0000ff7f0000fd4e2106fd0c0000c07f0000c07f0000c07f0000c0' +
  '7f2005fd0c0000807f0000807f0000807f0000807ffd502006fd0c007c0000007c0000007c0000007c0000fd3bfd5220052006410dfdab01' +
  'fd0c00008077000080770000807700008077fde601fd502006fd0cff7b0000ff7b0000ff7b0000ff7b0000fd3bfd52fd0b040020012004fd' +
  'aa014110fdab01fd0c00000080000000800000008000000080fd4e21052004fdaa01fd0cff7f0000ff7f0000ff7f0000ff7f0000fd4e2106' +
  'fd0c0000c07f0000c07f0000c07f0000c07f2005fd0c0000807f0000807f0000807f0000807ffd502006fd0c007c0000007c0000007c0000' +
  '007c0000fd3bfd5220052006410dfdab01fd0c00008077000080770000807700008077fde601fd502006fd0cff7b0000ff7b0000ff7b0000' +
  'ff7b0000fd3bfd52fd0b0410200041106a2100200141206a21010c000b0b0b';

/** WIDEN_SHARED_WAT assembled (wabt, features { simd: true, threads: true }), as hex. */
export const WIDEN_SHARED_WASM =
  '0061736d0100000001070160037f7f7f0002120103656e76066d656d6f727902030180800403020100070d0109776964656e5f6631360000' +
  '0aaa0301a70302017f037b200020024101746a210302400340200020034f0d012000fd000400210420012004fda9014110fdab01fd0c0000' +
  '0080000000800000008000000080fd4e21052004fda901fd0cff7f0000ff7f0000ff7f0000ff7f0000fd4e2106fd0c0000c07f0000c07f00' +
  '00c07f0000c07f2005fd0c0000807f0000807f0000807f0000807ffd502006fd0c007c0000007c0000007c0000007c0000fd3bfd52200520' +
  '06410dfdab01fd0c00008077000080770000807700008077fde601fd502006fd0cff7b0000ff7b0000ff7b0000ff7b0000fd3bfd52fd0b04' +
  '0020012004fdaa014110fdab01fd0c00000080000000800000008000000080fd4e21052004fdaa01fd0cff7f0000ff7f0000ff7f0000ff7f' +
  '0000fd4e2106fd0c0000c07f0000c07f0000c07f0000c07f2005fd0c0000807f0000807f0000807f0000807ffd502006fd0c007c0000007c' +
  '0000007c0000007c0000fd3bfd5220052006410dfdab01fd0c00008077000080770000807700008077fde601fd502006fd0cff7b0000ff7b' +
  '0000ff7b0000ff7b0000fd3bfd52fd0b0410200041106a2100200141206a21010c000b0b0b';

// The parts of the WebAssembly API used here (the project's TypeScript lib declares no WebAssembly global).
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports?: { env: { memory: object } }) => { exports: Record<string, unknown> };
}

/** Halves per call: the module's input area. */
export const SIMD_CHUNK = 1 << 19;
const OUT = 1 << 20; // byte offset of the output floats

let widener: { input: Uint16Array; output: Float32Array; widen: (src: number, dst: number, n: number) => void } | null | undefined;

function instance(): typeof widener {
  if (widener !== undefined) return widener;
  widener = null;
  try {
    const api = Reflect.get(globalThis, 'WebAssembly') as WasmApi | undefined;
    const bytes = new Uint8Array(WIDEN_WASM.length / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(WIDEN_WASM.slice(2 * i, 2 * i + 2), 16);
    if (!api || !api.validate(bytes)) return null; // no wasm SIMD here
    const { exports } = new api.Instance(new api.Module(bytes));
    const memory = exports.memory as { buffer: ArrayBuffer };
    widener = {
      input: new Uint16Array(memory.buffer, 0, SIMD_CHUNK),
      output: new Float32Array(memory.buffer, OUT, SIMD_CHUNK),
      widen: exports.widen_f16 as (src: number, dst: number, n: number) => void,
    };
  } catch {
    widener = null; // no WebAssembly at all
  }
  return widener;
}

/** The module's input area (SIMD_CHUNK halves) to fill before simdWidenHalf, or null where there is no wasm SIMD. */
export function simdHalfInput(): Uint16Array | null {
  return instance()?.input ?? null;
}

/** Widens the first m (≤ SIMD_CHUNK) halves of simdHalfInput() into dst[at…] (only after it gave an array). */
export function simdWidenHalf(m: number, dst: Float32Array, at: number): void {
  const w = instance();
  if (!w) throw new Error('simdWidenHalf without wasm SIMD (simdHalfInput() was null)');
  w.widen(0, OUT, (m + 7) & ~7); // the few halves past m are the last chunk's, widened and dropped
  dst.set(m === SIMD_CHUNK ? w.output : w.output.subarray(0, m), at);
}

// ---- widening in place, in a wasm backend's memory --------------------------------------------------------

type WidenFn = (src: number, dst: number, n: number) => void;
// Each buffer object a wasm memory's views were made over -> that memory (kernels/wasm/memory.ts notes them);
// each such memory -> the widener instantiated over it (null: no wasm SIMD, or it failed).
const memoryOf = new WeakMap<ArrayBufferLike, object>();
const sharedWideners = new WeakMap<object, WidenFn | null>();

/** Notes that views over `buffer` lie in the shared WebAssembly.Memory `memory` (addresses = byte offsets). */
export function noteWasmBuffer(buffer: ArrayBufferLike, memory: object): void {
  memoryOf.set(buffer, memory);
}

/**
 * For an array in a wasm memory noteWasmBuffer was told of: widen(src, dst, n) widening n halves (a multiple of 8)
 * at byte address src of that memory to float32 at dst (in place when dst + 4·8 <= src + 2·8 for every step, as
 * the loaders use it: the halves in the upper half of their own destination). Else null.
 */
export function simdWidenerFor(arr: ArrayBufferView): WidenFn | null {
  const memory = memoryOf.get(arr.buffer);
  if (!memory) return null;
  let w = sharedWideners.get(memory);
  if (w !== undefined) return w;
  w = null;
  try {
    const api = Reflect.get(globalThis, 'WebAssembly') as WasmApi | undefined;
    const bytes = new Uint8Array(WIDEN_SHARED_WASM.length / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(WIDEN_SHARED_WASM.slice(2 * i, 2 * i + 2), 16);
    if (api && api.validate(bytes)) w = new api.Instance(new api.Module(bytes), { env: { memory } }).exports.widen_f16 as WidenFn;
  } catch {
    w = null;
  }
  sharedWideners.set(memory, w);
  return w;
}
