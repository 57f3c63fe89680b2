// kernels/wasm/build.js: assembles kernels.wat (beside this file) into dist/kernels/wasm/kernels.wasm with the
// npm package wabt (the WebAssembly Binary Toolkit compiled to JavaScript). Run by `npm run build`, `prepare`
// and `pretest` after tsc; the .wasm is generated, never committed.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, 'kernels.wat');
const target = join(here, '..', '..', '..', 'dist', 'kernels', 'wasm', 'kernels.wasm');

const wabt = await wabtInit();
const module = wabt.parseWat(source, readFileSync(source, 'utf8'), { simd: true, threads: true });
const { buffer } = module.toBinary({ write_debug_names: true });
new WebAssembly.Module(buffer); // V8 validates it here (wabt's validate() ignores the features given to parseWat)
mkdirSync(dirname(target), { recursive: true });
writeFileSync(target, buffer);
console.error(`wasm: ${source} -> ${target} (${buffer.length} bytes)`);
