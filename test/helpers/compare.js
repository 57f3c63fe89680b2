// test/helpers/compare.js: stage-by-stage comparison of our arrays with reference (PyTorch/numpy) fixtures.
// One line per stage, tolerance relative to the stage's max |ref|:
//   ok   vision.block03.attn.out  max|d| 2.4e-07  rel 3.1e-08  tol 1e-05
//   FAIL vision.block04.mlp.fc    max|d| 4.2e-03 at 1234: ours 0.8123 ref 0.8165 (rel 5.1e-03 > 1e-05)
// NaN must meet NaN at the same index, ±Inf the same ±Inf; anything else fails.

// Returns { ok, line } without asserting, for callers that want to aggregate.
export function compareArrays(name, ours, ref, relTol, absFloor = 0) {
  if (ours.length !== ref.length) {
    return { ok: false, line: `FAIL ${name}  length ${ours.length} != reference ${ref.length}` };
  }
  let maxRef = 0;
  for (let i = 0; i < ref.length; i++) {
    const r = Number(ref[i]);
    if (Number.isFinite(r)) maxRef = Math.max(maxRef, Math.abs(r));
  }
  const scale = Math.max(maxRef, absFloor);
  let maxD = 0;
  let at = -1;
  for (let i = 0; i < ref.length; i++) {
    const o = Number(ours[i]);
    const r = Number(ref[i]);
    if (Number.isNaN(r) || Number.isNaN(o) || !Number.isFinite(r) || !Number.isFinite(o)) {
      const same = (Number.isNaN(r) && Number.isNaN(o)) || (o === r);
      if (!same) return { ok: false, line: `FAIL ${name}  non-finite mismatch at ${i}: ours ${o} ref ${r}` };
      continue;
    }
    const d = Math.abs(o - r);
    if (d > maxD) { maxD = d; at = i; }
  }
  const rel = scale > 0 ? maxD / scale : maxD;
  const ok = rel <= relTol;
  const pad = name.padEnd(32);
  const line = ok
    ? `ok   ${pad} max|d| ${maxD.toExponential(1)}  rel ${rel.toExponential(1)}  tol ${relTol.toExponential(0)}`
    : `FAIL ${pad} max|d| ${maxD.toExponential(1)} at ${at}: ours ${Number(ours[at])} ref ${Number(ref[at])} (rel ${rel.toExponential(1)} > ${relTol.toExponential(0)})`;
  return { ok, line };
}

// tape assertion: t.ok(...) with the comparison line as its message.
export function assertClose(t, name, ours, ref, relTol, absFloor = 0) {
  const { ok, line } = compareArrays(name, ours, ref, relTol, absFloor);
  t.ok(ok, line);
  return ok;
}

// Where ../shared/data lives (beside the checkout), or null with a reason for skipping.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const sharedData = join(repoRoot, '..', 'shared', 'data');
export function sharedOrSkip(t, sub) {
  const p = join(sharedData, sub);
  if (!existsSync(p)) {
    t.skip(`skipped: ${p} is absent (../shared/data holds test data that is not committed here)`);
    return null;
  }
  return p;
}
export const fixturesDir = join(repoRoot, 'reference', 'fixtures');
