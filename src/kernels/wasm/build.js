// kernels/wasm/build.js: assembles kernels.wat (beside this file) with the npm package wabt (the WebAssembly
// Binary Toolkit compiled to JavaScript) into two modules in dist/kernels/wasm/. Run by `npm run build`,
// `prepare` and `pretest` after tsc; the .wasm files are generated, never committed.
//   kernels.wasm      the kernels as written: SIMD f32x4 multiply, then add;
//   kernels-fma.wasm  the same, except that each multiply-add of the GEMM tiles,
//                       (f32x4.add (local.get $cRC) (f32x4.mul (local.get $x) B))
//                     becomes one fused multiply-add, (f32x4.relaxed_madd (local.get $x) B (local.get $cRC)),
//                     from WebAssembly's relaxed SIMD. Half the instructions in the inner loops; each sum keeps
//                     its order, rounded once per step instead of twice. The backend uses it where the engine
//                     has relaxed SIMD (kernels/wasm/backend.ts).
// Before both, it writes the copies of $tile4t that kernels.wat asks for at its `;; @tile4t-copies` line: one
// per K in FIXED_K, with the row stride 4K built into the loads as constant offsets, the table $tiles that
// `linear` calls them through, and $tile4t_for (K → the copy's index in $tiles, or 0 for $tile4t itself).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, 'kernels.wat');
const outDir = join(here, '..', '..', '..', 'dist', 'kernels', 'wasm');
const written = readFileSync(source, 'utf8');

// ---- the copies of $tile4t with a fixed row stride
// K of the common CLIP widths (ViT-B: 768 and 3072, its text tower 512 and 2048; ViT-L: 1024, 4096)
const FIXED_K = [512, 768, 1024, 2048, 3072, 4096,
  // and of RN50's convolutions: C·kh·kw of its 1×1 and 3×3 convs (forward), their O (input gradient)
  64, 128, 256, 288, 576, 1152, 2304, 4608,
  // the stems' first layer (3 channels, 3×3), RN50's stem width (its input gradient) and the shipped tiny
  // ResNet's 3×3 layers (8 and 16 channels)
  27, 32, 72, 144];
const MARKER = '  ;; @tile4t-copies\n';
const tileStart = written.indexOf('  (func $tile4t (type $tile4t_type)');
const tileEnd = written.indexOf('\n  )\n', tileStart) + '\n  )\n'.length;
if (!written.includes(MARKER) || tileStart < 0) throw new Error('build.js: kernels.wat lacks $tile4t or its @tile4t-copies line');
const tile = written.slice(tileStart, tileEnd);
function fixedCopy(K) {
  let copy = tile.replace('(func $tile4t ', `(func $tile4t_k${K} `);
  for (const r of [1, 2, 3]) {
    const generic = `(v128.load32_splat (i32.add (local.get $a${r}) (local.get $k)))`;
    if (!copy.includes(generic)) throw new Error(`build.js: $tile4t no longer reads row ${r} as ${generic}`);
    copy = copy.replace(generic, `(v128.load32_splat offset=${4 * K * r} (i32.add (local.get $a) (local.get $k)))`);
  }
  return copy;
}
const copies = [
  ...FIXED_K.map(fixedCopy),
  `  (table $tiles ${FIXED_K.length + 1} funcref)\n`,
  `  (elem (table $tiles) (i32.const 0) func $tile4t ${FIXED_K.map((K) => `$tile4t_k${K}`).join(' ')})\n`,
  '  (func $tile4t_for (param $K i32) (result i32)\n',
  ...FIXED_K.map((K, i) => `    (if (i32.eq (local.get $K) (i32.const ${K})) (then (return (i32.const ${i + 1}))))\n`),
  '    (i32.const 0))\n',
].join('');
const wat = written.replace(MARKER, copies);

// B: a local ($b0, $b1) or a load from $b (tile1)
const MULTIPLY_ADD = /\(f32x4\.add \(local\.get (\$c\d\d)\) \(f32x4\.mul \(local\.get \$x\) (\(local\.get \$b\d\)|\(v128\.load (?:offset=16 )?\(local\.get \$b\)\))\)\)/g;
// $tile4 8, $tile1 2, $tile4p 8, $tile4t and each copy 8: every one, or rows would round differently by tile
const TILE_MULTIPLY_ADDS = 26 + 8 * FIXED_K.length;
const fused = wat.replace(MULTIPLY_ADD, '(f32x4.relaxed_madd (local.get $x) $2 (local.get $1))');
const count = (wat.match(MULTIPLY_ADD) ?? []).length;
if (count !== TILE_MULTIPLY_ADDS) {
  throw new Error(`build.js: found ${count} GEMM multiply-adds in kernels.wat, expected ${TILE_MULTIPLY_ADDS}: update both`);
}

const wabt = await wabtInit();
mkdirSync(outDir, { recursive: true });
for (const [name, text, features] of [
  ['kernels.wasm', wat, { simd: true, threads: true }],
  ['kernels-fma.wasm', fused, { simd: true, threads: true, relaxed_simd: true }],
]) {
  const { buffer } = wabt.parseWat(source, text, { ...features, reference_types: true }).toBinary({ write_debug_names: true });
  // V8 validates the plain module here (wabt's validate() ignores the features given to parseWat); the fused
  // one needs an engine with relaxed SIMD, which the backend checks when it loads
  if (name === 'kernels.wasm') new WebAssembly.Module(buffer);
  writeFileSync(join(outDir, name), buffer);
  console.error(`wasm: ${source} -> ${join(outDir, name)} (${buffer.length} bytes)`);
}
