// tools/lib/fuzz/case.js: one library fuzz case, rebuilt from (target, seed, index) and run in this process →
// [outcome, detail, case, error]. The worker runs it under the parent's watchdog; `fuzz.js --case` runs it bare.
import { Rng } from './rng.js';
import { LIBRARY_TARGETS } from './targets.js';
import { classifyError } from './classify.js';

const contexts = new Map(); // target → its prepared pristine inputs, read once per process

function prepared(targetName) {
  if (!contexts.has(targetName)) contexts.set(targetName, LIBRARY_TARGETS[targetName].prepare());
  return contexts.get(targetName);
}

export function runCase(targetName, seed, index, dir) {
  const target = LIBRARY_TARGETS[targetName];
  const ctx = prepared(targetName);
  const c = target.generate(new Rng(seed, index), ctx);
  try {
    return ['success', target.run(c, dir, ctx), c, null];
  } catch (e) {
    return [...classifyError(e), c, e];
  }
}

runCase.prepare = prepared;

// What case `index` is, for reports on cases whose process was killed before it could say.
export function describeCase(targetName, seed, index) {
  try {
    return LIBRARY_TARGETS[targetName].generate(new Rng(seed, index), prepared(targetName)).desc;
  } catch (e) { // a report must not end the campaign: say that the case's generator itself failed
    return `(the case generator failed: ${e?.message ?? e})`;
  }
}
