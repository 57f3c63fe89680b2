// tools/lib/backend.js: --backend for the tools. 'auto' takes the fastest backend that works here and
// says which on stderr; a named one that is unavailable is an error listing those that are.
import { getBackend } from '../../dist/kernels/backend.js';

export function backendNames() {
  return ['auto', 'ts'];
}

export async function chooseBackend(name, log) {
  if (name === 'auto') {
    const be = getBackend('ts');
    log(`backend auto: ${be.name}`);
    return be;
  }
  return getBackend(name);
}
