// tools/lib/backend.js: --backend for the tools, a thin shell over the library's chooseBackend: 'auto' takes
// the fastest backend that works here (each is checked against the ts reference, then timed on a small
// matmul), a named one that is unavailable is an error listing those that are; the choice is said on stderr.
// A tool is its own process, so it opts in to relaxed SIMD (Node 20's V8 flag) for the fused wasm build,
// which the library never does by itself; DECOMCAM_WASM_FMA=0 keeps the plain build.
import { BACKEND_NAMES, chooseBackend as choose, enableRelaxedSimd } from 'decomcam';

export function backendNames() {
  return ['auto', ...BACKEND_NAMES];
}

export async function chooseBackend(name, log) {
  if (process.env.DECOMCAM_WASM_FMA !== '0') enableRelaxedSimd();
  const { backend, note } = choose(name);
  log(note);
  return backend;
}
