// tools/lib/backend.js: --backend for the tools. 'auto' takes the fastest backend that works here (each is
// checked against the ts reference, then timed on a small matmul) and says which on stderr; a named one
// that is unavailable is an error listing those that are.
import { chooseBackend as choose } from '../../dist/kernels/choose.js';
import { BACKENDS } from '../../dist/kernels/backend.js';

export function backendNames() {
  return ['auto', ...Object.keys(BACKENDS)];
}

export async function chooseBackend(name, log) {
  const { backend, note } = choose(name);
  log(note);
  return backend;
}
