#!/usr/bin/env node
// tools/bench_pca.js: a benchmark (not a test) of pca() on DecomCAM's shapes, X (h·w × P) = 196×500 (ViT-B/16)
// and 49×500 (RN50), to Q = 10 components: median wall time of --runs runs after one warm-up. Inputs are
// reference/bench_pca.py's, bit for bit: seeded_uniform(SEED, 'bench.x<m>'), flat spectrum ("uniform"), and
// the same with column j divided by (1 + j/10), a decaying spectrum like DecomCAM's X = A[:, top]·alpha[top]
// ("scaled"). Run both scripts on the same machine, at the same load (the load average is printed).
//   node tools/bench_pca.js [--runs 15] [--solver auto|lanczos|jacobi]
import { cpus, loadavg } from 'node:os';
import { pca } from '../dist/linalg/pca.js';
import { lanczosSvd } from '../dist/linalg/lanczos.js';
import { seededUniform } from '../dist/tensor/rng.js';
import { helpText, parseArgs, runMain } from './lib/cli.js';

const SEED = 20240604; // as reference/bench_pca.py
const Q = 10;
const spec = {
  runs: { type: 'int', default: 15, min: 1, help: 'timed runs per case (the median is reported)' },
  solver: { type: 'string', default: 'auto', choices: ['auto', 'lanczos', 'jacobi'], help: 'pca() solver' },
  help: { type: 'bool', help: 'show this help' },
};

function input(m, n, scaled) {
  const x = seededUniform(SEED, `bench.x${m}`, m * n, 1, 0, 'float64');
  if (scaled) for (let i = 0; i < x.length; i++) x[i] = x[i] / (1 + (i % n) / 10);
  return x;
}

const median = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];

await runMain('bench_pca', async (argv) => {
  const opts = parseArgs(argv, spec);
  if (opts.help) {
    console.log(helpText('node tools/bench_pca.js [options]', spec));
    return;
  }
  console.log(`node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} ×${cpus().length}, ` +
    `load average ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
  for (const [m, n] of [[196, 500], [49, 500]]) {
    for (const scaled of [false, true]) {
      const x = input(m, n, scaled);
      let res = pca(x, m, n, Q, { solver: opts.solver }); // warm-up (JIT)
      const wall = [];
      const cpu = [];
      for (let r = 0; r < opts.runs; r++) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        res = pca(x, m, n, Q, { solver: opts.solver });
        wall.push(performance.now() - t0);
        cpu.push(process.cpuUsage(c0).user / 1000);
      }
      // Lanczos steps, for the record (the centring is pca()'s, repeated here).
      let steps = '';
      if (res.solver === 'lanczos') {
        const xc = Float64Array.from(x);
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let i = 0; i < m; i++) s += xc[i * n + j];
          for (let i = 0; i < m; i++) xc[i * n + j] -= s / m;
        }
        steps = `, ${lanczosSvd(xc, m, n, Q).steps} Lanczos steps`;
      }
      console.log(`pca ${m}×${n} → ${Q} ${scaled ? 'scaled ' : 'uniform'}: median ${median(wall).toFixed(1)} ms ` +
        `(min ${Math.min(...wall).toFixed(1)}, cpu ${median(cpu).toFixed(1)}) over ${opts.runs} runs, ` +
        `solver ${res.solver}${steps}${res.note ? ` [${res.note}]` : ''}`);
    }
  }
});
