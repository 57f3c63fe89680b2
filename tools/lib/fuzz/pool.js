// tools/lib/fuzz/pool.js: runs a campaign's cases on a pool of child processes (no more than the machine's cores),
// each under a watchdog: over the memory limit (resident set, polled from /proc) it is killed and the case is a
// blow-up; past the time limit, a hang. Child processes, not worker threads: resourceLimits does not bound
// ArrayBuffers, and a killed process takes its memory with it. Results come back in case order.
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));
const POLL_MS = 20;

export function rssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch { return 0; }
}

// Kills child when it passes memMb or timeMs; onKill(outcome, detail) says which. Returns { stop() → peak MB }.
export function watch(child, { timeMs, memMb }, onKill) {
  const t0 = Date.now();
  let peak = 0;
  const timer = setInterval(() => {
    const rss = rssMb(child.pid);
    peak = Math.max(peak, rss);
    let why = null;
    if (rss > memMb) why = ['blow-up', `resident memory ${Math.round(rss)} MB > ${memMb} MB`];
    else if (Date.now() - t0 > timeMs) why = ['hang', `still running after ${timeMs / 1000} s`];
    if (why) { clearInterval(timer); child.kill('SIGKILL'); onKill(...why); }
  }, POLL_MS);
  return { stop() { clearInterval(timer); return peak; } };
}

// A died child's stderr → how to count it: V8's own out-of-memory abort is a blow-up, anything else a crash.
export function crashOutcome(code, signal, stderr) {
  const tail = stderr.trim().split('\n').slice(-3).join(' | ').slice(0, 300);
  if (/heap out of memory|Allocation failed|Out of memory|OOM/i.test(stderr)) return ['blow-up', `out of memory: ${tail}`];
  return ['unclear', `process died (${signal ?? `exit ${code}`}): ${tail}`];
}

// Library targets: cases [start, start+count) of `target` → results[] ({ index, outcome, detail, desc, ms, peakMb }).
export function runLibraryCases({ target, seed, start, count, jobs, timeMs, memMb, scratch, onResult }) {
  return new Promise((resolveAll) => {
    const results = new Array(count);
    let next = 0;
    let done = 0;
    const finish = (r) => {
      results[r.index - start] = r;
      onResult?.(r);
      if (++done === count) resolveAll(results);
    };

    const startWorker = (k) => {
      const child = fork(WORKER, [target], {
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        serialization: 'advanced',
        execArgv: ['--expose-gc', `--max-old-space-size=${Math.max(512, memMb)}`],
        env: { ...process.env, DECOMCAM_FUZZ_SCRATCH: join(scratch, `worker-${k}`) },
      });
      let stderr = '';
      child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
      const w = { child, job: null, dog: null, killed: null };
      const give = () => {
        if (next >= count) { w.job = null; child.send({ exit: true }); return; }
        w.job = { index: start + next++, t0: Date.now() };
        w.killed = null;
        w.dog = watch(child, { timeMs, memMb }, (outcome, detail) => { w.killed = [outcome, detail]; });
        child.send({ target, seed, index: w.job.index });
      };
      child.on('message', (m) => {
        if (m.ready) { give(); return; }
        if (w.killed) return; // the watchdog already counted this case; 'exit' reports it
        const peak = w.dog.stop();
        const r = { ...m, peakMb: Math.max(m.peakMb, peak) };
        if (r.peakMb > memMb && r.outcome !== 'blow-up') {
          r.detail = `peak resident memory ${Math.round(r.peakMb)} MB > ${memMb} MB (${r.outcome}: ${r.detail})`;
          r.outcome = 'blow-up';
        }
        w.job = null;
        finish(r);
        give();
      });
      child.on('exit', (code, signal) => {
        if (!w.job) return;
        w.dog.stop();
        const [outcome, detail] = w.killed ?? crashOutcome(code, signal, stderr);
        finish({ index: w.job.index, outcome, detail, ms: Date.now() - w.job.t0, peakMb: 0 });
        w.job = null;
        if (next < count) startWorker(k);
      });
    };
    if (count === 0) { resolveAll(results); return; }
    for (let k = 0; k < Math.min(jobs, count); k++) startWorker(k);
  });
}
