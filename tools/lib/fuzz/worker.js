// tools/lib/fuzz/worker.js: one fuzz worker process. It receives { target, seed, index }, rebuilds that case from
// the seed, runs it and answers { index, outcome, detail, peakMb }. The parent watches this process's memory and
// time and kills it on a hang or blow-up; the peak here (VmHWM, reset before each case) also catches a spike
// shorter than the parent's polling interval.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCase } from './case.js';

// the parent names a scratch folder it removes itself, so a killed worker leaves nothing behind
const scratch = process.env.DECOMCAM_FUZZ_SCRATCH ?? mkdtempSync(join(tmpdir(), 'decomcam-fuzz-'));
mkdirSync(scratch, { recursive: true });

function peakMb() {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

function resetPeak() {
  globalThis.gc?.();
  try { writeFileSync('/proc/self/clear_refs', '5'); } catch { /* not Linux: the parent's polling still applies */ }
}

// prepare the target named on the command line before the parent starts the clock on the first case
if (process.argv[2]) runCase.prepare(process.argv[2]);
process.send({ ready: true });

process.on('message', (msg) => {
  if (msg.exit) { rmSync(scratch, { recursive: true, force: true }); process.exit(0); }
  resetPeak();
  const t0 = performance.now();
  let outcome, detail, c;
  try {
    [outcome, detail, c] = runCase(msg.target, msg.seed, msg.index, join(scratch, 'case'));
  } catch (e) { // generating the case failed: the fuzzer's own bug, reported as such
    [outcome, detail] = ['unclear', `fuzzer: ${e?.stack ?? e}`];
  }
  process.send({ index: msg.index, outcome, detail, desc: c?.desc, ms: performance.now() - t0, peakMb: peakMb() });
});
