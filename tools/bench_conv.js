#!/usr/bin/env node
// tools/bench_conv.js: speed of the convolutions (issue 15, point 5) on the wasm backend, per layer shape of CLIP
// RN50 at 224 px (ModifiedResNet: 3-conv stem, bottlenecks whose 3×3 convs have stride 1 and whose 1×1
// downsample follows an average pool) and of a tiny ResNet (width 8-32, 64-224 px): GFLOP/s of the forward
// (one image), of the input gradient (dx only, as DecomCAM needs) and, for RN50, of the forward of 11 images
// (DecomCAM's perturbed batch), each as a share of the core's wasm SIMD ceiling. The ceiling is measured in the
// same run, two ways: a pure multiply-add loop (10 independent f32x4 chains, fused where the engine has relaxed
// SIMD, no memory: tools/bench.js's probe) and the wasm Linear GEMM on a large square (1024³) on one thread.
// Times are medians of --reps runs after a warm-up; "cpu" rates divide by process CPU time (a busy shared
// machine disturbs them less). --rounds R runs the whole list of shapes R times over and keeps each shape's best
// round, as the ceiling is the best of its runs: this virtual machine's speed drifts by up to 40% from minute to
// minute, so a single pass compares some shapes timed in a slow minute with a ceiling timed in a fast one.
// The PyTorch counterpart: reference/bench_torch.py --parts conv,rn50.
// --parts model (first, so that the peak RSS is its own): a seeded CLIP RN50 (clip/resnet.ts) on wasm: image
// forward of 1 and 11 images, and DecomCAM end to end at visual.layer4 (paper preset, P = 500, Q = 10, as
// tools/bench.js's ViT run) per stage, with peak RSS; skipped, saying so, where this build has no ResNet tower.
//   node tools/bench_conv.js [--parts model,shapes] [--threads 1,2] [--reps 5] [--rounds 1] [--set rn50,tiny]
//                            [--kinds forward,dx,batch] [--json FILE]
// tools/bench.js runs the shapes as its part `conv`.
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { createWasmBackend, enableRelaxedSimd } from '../dist/kernels/wasm/backend.js';
import { convOutSize } from '../dist/nn/conv2d.js';
import { seededUniform } from '../dist/tensor/rng.js';

const log = (m) => process.stderr.write(`${m}\n`);
const median = (xs) => { const s = xs.slice().sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

// [label, C, H (= W), O, k, stride, pad, count in the network]
export const RN50_SHAPES = [
  ['stem.conv1 3x3 s2 3->32 @224', 3, 224, 32, 3, 2, 1, 1],
  ['stem.conv2 3x3 32->32 @112', 32, 112, 32, 3, 1, 1, 1],
  ['stem.conv3 3x3 32->64 @112', 32, 112, 64, 3, 1, 1, 1],
  ['layer1 1x1 64->64 @56', 64, 56, 64, 1, 1, 0, 1],
  ['layer1 1x1 256->64 @56', 256, 56, 64, 1, 1, 0, 2],
  ['layer1 3x3 64->64 @56', 64, 56, 64, 3, 1, 1, 3],
  ['layer1 1x1 64->256 @56 (+ds)', 64, 56, 256, 1, 1, 0, 4],
  ['layer2 1x1 256->128 @56', 256, 56, 128, 1, 1, 0, 1],
  ['layer2 3x3 128->128 @56', 128, 56, 128, 3, 1, 1, 1],
  ['layer2 1x1 128->512 @28', 128, 28, 512, 1, 1, 0, 4],
  ['layer2 ds 1x1 256->512 @28', 256, 28, 512, 1, 1, 0, 1],
  ['layer2 1x1 512->128 @28', 512, 28, 128, 1, 1, 0, 3],
  ['layer2 3x3 128->128 @28', 128, 28, 128, 3, 1, 1, 3],
  ['layer3 1x1 512->256 @28', 512, 28, 256, 1, 1, 0, 1],
  ['layer3 3x3 256->256 @28', 256, 28, 256, 3, 1, 1, 1],
  ['layer3 1x1 256->1024 @14', 256, 14, 1024, 1, 1, 0, 6],
  ['layer3 ds 1x1 512->1024 @14', 512, 14, 1024, 1, 1, 0, 1],
  ['layer3 1x1 1024->256 @14', 1024, 14, 256, 1, 1, 0, 5],
  ['layer3 3x3 256->256 @14', 256, 14, 256, 3, 1, 1, 5],
  ['layer4 1x1 1024->512 @14', 1024, 14, 512, 1, 1, 0, 1],
  ['layer4 3x3 512->512 @14', 512, 14, 512, 3, 1, 1, 1],
  ['layer4 1x1 512->2048 @7', 512, 7, 2048, 1, 1, 0, 3],
  ['layer4 ds 1x1 1024->2048 @7', 1024, 7, 2048, 1, 1, 0, 1],
  ['layer4 1x1 2048->512 @7', 2048, 7, 512, 1, 1, 0, 2],
  ['layer4 3x3 512->512 @7', 512, 7, 512, 3, 1, 1, 2],
];
// a tiny ResNet's kinds of layer (widths 8-32, 64-224 px)
export const TINY_SHAPES = [
  ['tiny stem 3x3 s2 3->8 @64', 3, 64, 8, 3, 2, 1, 1],
  ['tiny 3x3 8->8 @32', 8, 32, 8, 3, 1, 1, 1],
  ['tiny 1x1 16->32 @32', 16, 32, 32, 1, 1, 0, 1],
  ['tiny 3x3 16->16 @16', 16, 16, 16, 3, 1, 1, 1],
  ['tiny stem 3x3 s2 3->16 @224', 3, 224, 16, 3, 2, 1, 1],
  ['tiny 3x3 16->16 @112', 16, 112, 16, 3, 1, 1, 1],
  ['tiny 3x3 32->32 @28', 32, 28, 32, 3, 1, 1, 1],
  ['tiny 1x1 32->128 @14', 32, 14, 128, 1, 1, 0, 1],
];

export const flopOf = ([, C, H, O, k, s, p], images = 1) => {
  const Ho = convOutSize(H, k, s, p);
  return 2 * images * O * Ho * Ho * C * k * k;
};

// Median wall ms and CPU ms of fn over n runs after a warm-up (tools/bench.js uses it too). The warm-up runs fn
// for a quarter of a second (at least once, at most 50 times): V8 first runs each wasm function as baseline
// (Liftoff) code and moves it to its optimizing compiler only after it has run a while, so a kernel timed on its
// first calls — a fixed-K tile copy used by one layer shape only — measured its baseline code (30 instead of 41
// GFLOP/s on RN50's 3×3 layer at 14 px).
export function measure(fn, n) {
  const warm = performance.now();
  for (let i = 0; i < 50 && (i === 0 || performance.now() - warm < 250); i++) fn();
  const wall = [], cpu = [];
  for (let r = 0; r < n; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    fn();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { wall: median(wall), cpu: median(cpu) };
}

// The pure multiply-add ceiling of one core (bench.js's kernels part uses it too), or a string saying why not measured.
export async function fmaPeak(fused) {
  const wabt = await import('wabt').then((m) => m.default()).catch(() => null);
  if (!wabt) return 'wabt (a devDependency) could not be loaded';
  const chains = 10;
  const step = (i) => (fused
    ? `(local.set $a${i} (f32x4.relaxed_madd (local.get $a${i}) (local.get $m) (local.get $c)))`
    : `(local.set $a${i} (f32x4.add (f32x4.mul (local.get $a${i}) (local.get $m)) (local.get $c)))`);
  const ids = [...Array(chains).keys()];
  const sum = ids.slice(1).reduce((acc, i) => `(f32x4.add ${acc} (local.get $a${i}))`, '(local.get $a0)');
  const wat = `(module (func (export "peak") (param $n i32) (result f32)
    ${ids.map((i) => `(local $a${i} v128)`).join(' ')} (local $m v128) (local $c v128)
    (local.set $m (f32x4.splat (f32.const 0.999999))) (local.set $c (f32x4.splat (f32.const 1e-7)))
    (loop $l ${ids.map(step).join(' ')}
      (local.set $n (i32.sub (local.get $n) (i32.const 1))) (br_if $l (local.get $n)))
    (f32x4.extract_lane 0 ${sum})))`;
  const bytes = wabt.parseWat('peak.wat', wat, { simd: true, relaxed_simd: fused }).toBinary({}).buffer;
  const peak = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports.peak;
  const n = 1e7;
  const { rate, cpuRate } = best(() => peak(n), n * chains * 8, 6);
  return { label: `${chains} chains of f32x4 ${fused ? 'fused multiply-adds' : 'multiply then add'}`, rate, cpuRate };
}

// The best rate (flop per ns = GFLOP/s) of fn over reps runs after a warm-up, by the wall clock and by CPU time.
function best(fn, flop, reps) {
  let rate = 0, cpuRate = 0;
  fn();
  for (let r = 0; r < reps; r++) {
    const c0 = process.cpuUsage();
    const t = performance.now();
    fn();
    const wall = performance.now() - t;
    const c = process.cpuUsage(c0);
    rate = Math.max(rate, flop / (wall * 1e6));
    cpuRate = Math.max(cpuRate, flop / ((c.user + c.system) * 1e3));
  }
  return { rate, cpuRate };
}

// The wasm Linear GEMM on a large square, one thread: the best of reps (GFLOP/s).
function gemmPeak(reps) {
  const be = createWasmBackend({ threads: 1 });
  const n = 1024;
  const a = be.alloc(n * n), w = be.alloc(n * n), out = be.alloc(n * n);
  a.set(seededUniform(1, 'a', n * n, 1, 0, 'float32'));
  w.set(seededUniform(1, 'w', n * n, 1, 0, 'float32'));
  const { rate, cpuRate } = best(() => be.matmul(out, a, w, null, n, n, n), 2 * n ** 3, reps);
  be.close();
  return { label: `wasm linear ${n}x${n}x${n}, 1 thread`, rate, cpuRate };
}

// Runs the convolution benchmark; prints tables on stdout and returns the report.
export async function benchConv({ threads = [1, 2], reps = 5, rounds = 1, sets = ['rn50', 'tiny'], kinds = ['forward', 'dx', 'batch'] } = {}) {
  enableRelaxedSimd();
  const probe = createWasmBackend({ threads: 1 });
  const why = probe.unavailable();
  if (why) {
    console.log(`\n## conv: skipped: wasm cannot run here: ${why}`);
    return { skipped: why };
  }
  const fused = probe.fma;
  probe.close();
  const report = { cpu: cpus()[0]?.model, loadAverage: loadavg(), fma: fused, rounds, rows: [] };
  report.fmaPeak = await fmaPeak(fused);
  report.gemmPeak = gemmPeak(reps);
  const shapes = [...(sets.includes('rn50') ? RN50_SHAPES : []), ...(sets.includes('tiny') ? TINY_SHAPES : [])];
  for (let round = 1; round <= rounds; round++) {
    for (const t of threads) {
      const be = createWasmBackend({ threads: t });
      for (const shape of shapes) {
        const [label, C, H, O, k, s, p] = shape;
        const Ho = convOutSize(H, k, s, p);
        const runs = [];
        if (kinds.includes('forward')) runs.push(['forward', 1]);
        if (kinds.includes('dx')) runs.push(['dx', 1]);
        if (kinds.includes('batch') && RN50_SHAPES.includes(shape)) runs.push(['forward', 11]);
        for (const [kind, N] of runs) {
          log(`conv: round ${round}/${rounds}, ${t} thread(s) ${label} ${kind} N=${N}`);
          const own = (n, name) => { const a = be.alloc(n); a.set(seededUniform(2, name, n, 1, 0, 'float32')); return a; };
          const x = own(N * C * H * H, 'x'), w = own(O * C * k * k, 'w'), y = own(N * O * Ho * Ho, 'y');
          const dx = kind === 'dx' ? own(N * C * H * H, 'dx') : null;
          const run = kind === 'forward'
            ? () => be.conv2d(y, x, w, null, N, C, H, H, O, k, k, s, p)
            : () => be.conv2dBackward(dx, null, null, y, x, w, N, C, H, H, O, k, k, s, p);
          const m = measure(run, reps);
          for (const a of [x, w, y, dx]) if (a) be.free(a);
          const gflop = flopOf(shape, N) / 1e9;
          const rate = gflop / (m.wall / 1000), cpuRate = gflop / (m.cpu / 1000);
          // each shape's best round (by CPU time): the row of the first round, replaced by a faster one
          const row = { threads: t, shape: label, kind, images: N, ms: m.wall, cpuMs: m.cpu, rate, cpuRate };
          const i = report.rows.findIndex((r) => r.threads === t && r.shape === label && r.kind === kind && r.images === N);
          if (i < 0) report.rows.push(row);
          else if (m.cpu < report.rows[i].cpuMs) report.rows[i] = row;
        }
      }
      be.close();
    }
  }
  // the ceilings again after the shapes (the machine's load changes): the better of the two measurements
  const again = await fmaPeak(fused), gemmAgain = gemmPeak(reps);
  const better = (a, b) => (typeof a === 'string' ? a : { ...a, rate: Math.max(a.rate, b.rate), cpuRate: Math.max(a.cpuRate, b.cpuRate) });
  report.fmaPeak = better(report.fmaPeak, again);
  report.gemmPeak = better(report.gemmPeak, gemmAgain);
  const ceiling = typeof report.fmaPeak === 'string' ? report.gemmPeak : report.fmaPeak;
  report.ceiling = ceiling.label;
  for (const r of report.rows) {
    r.share = r.rate / (r.threads * ceiling.rate);
    r.cpuShare = r.cpuRate / ceiling.cpuRate; // CPU time counts every thread's: one core's ceiling
    r.gemmShare = r.cpuRate / report.gemmPeak.cpuRate;
  }
  const pct = (x) => `${Math.round(100 * x)}%`.padStart(6);
  const rates = (p) => `${p.rate.toFixed(1)} GFLOP/s (cpu ${p.cpuRate.toFixed(1)})`;
  console.log(`\n## conv on wasm, ${fused ? 'fused multiply-add build' : 'plain build'} (GFLOP/s, median of ${reps}${rounds > 1 ? `; each shape's best of ${rounds} rounds` : ''})`);
  console.log(`CPU: ${report.cpu}; one core's ceiling: ${typeof report.fmaPeak === 'string' ? `pure multiply-add loop not measured (${report.fmaPeak})`
    : `${report.fmaPeak.label} ${rates(report.fmaPeak)}`}; ${report.gemmPeak.label} ${rates(report.gemmPeak)}`);
  console.log('cpu = GFLOP per second of process CPU time (all threads; a busy shared machine disturbs it less than the wall clock);');
  console.log(`share = wall rate / (threads × ceiling); cpu sh = cpu rate / cpu ceiling (${ceiling.label}); gemm sh = cpu rate / the 1024³ GEMM's`);
  console.log(`${'shape'.padEnd(32)} ${'op'.padEnd(12)} ${'thr'.padStart(3)} ${'ms'.padStart(8)} ${'GFLOP/s'.padStart(8)} ${'cpu'.padStart(7)} `
    + `${'share'.padStart(6)} ${'cpu sh'.padStart(6)} ${'gemm sh'.padStart(7)}`);
  for (const r of report.rows) {
    console.log(`${r.shape.padEnd(32)} ${`${r.kind}${r.images > 1 ? ` x${r.images}` : ''}`.padEnd(12)} ${String(r.threads).padStart(3)} `
      + `${r.ms.toFixed(2).padStart(8)} ${r.rate.toFixed(1).padStart(8)} ${r.cpuRate.toFixed(1).padStart(7)} `
      + `${pct(r.share)} ${pct(r.cpuShare)} ${pct(r.gemmShare).padStart(7)}`);
  }
  // RN50's convolutions in total: each shape × its count in the network
  for (const t of threads) {
    for (const [kind, N] of [['forward', 1], ['dx', 1], ['forward', 11]]) {
      let flop = 0, ms = 0, cpuMs = 0;
      for (const shape of RN50_SHAPES) {
        const r = report.rows.find((x) => x.threads === t && x.shape === shape[0] && x.kind === kind && x.images === N);
        if (!r) continue;
        flop += flopOf(shape, N) * shape[7];
        ms += r.ms * shape[7];
        cpuMs += r.cpuMs * shape[7];
      }
      if (ms > 0) {
        const total = { threads: t, kind, images: N, gflop: flop / 1e9, ms, rate: flop / 1e6 / ms, cpuRate: flop / 1e6 / cpuMs };
        report.totals = [...(report.totals ?? []), total];
        console.log(`RN50 every conv, ${kind}${N > 1 ? ` x${N}` : ''}, ${t} thread(s): ${total.gflop.toFixed(2)} GFLOP in ${ms.toFixed(0)} ms = `
          + `${total.rate.toFixed(1)} GFLOP/s (${pct(total.rate / (t * ceiling.rate)).trim()} of ceiling); cpu ${total.cpuRate.toFixed(1)} `
          + `(${pct(total.cpuRate / ceiling.cpuRate).trim()})`);
      }
    }
  }
  return report;
}

// A seeded CLIP RN50 (OpenAI's ModifiedResNet, layers [3,4,6,3], width 64, E 1024, 224 px, the ViT-B's text tower)
// on wasm with `threads` threads: image forward of 1 and 11 images; DecomCAM end to end per stage and peak RSS.
export async function benchRn50Model({ threads = 2, reps = 5 } = {}) {
  const config = await import('../dist/clip/config.js');
  if (typeof config.resnetVisionConfig !== 'function') {
    const why = 'this build has no ResNet image tower (clip/resnet.ts, issue 15 points 1-4)';
    console.log(`\n## RN50 model: skipped: ${why}`);
    return { skipped: why };
  }
  const { seededClip, encodeImages } = await import('../dist/clip/model.js');
  const { explain } = await import('../dist/cam/explain.js');
  const { embeddingTarget } = await import('../dist/cam/target.js');
  enableRelaxedSimd();
  const be = createWasmBackend({ threads });
  const base = config.parseHfConfig({ model_type: 'clip', projection_dim: 1024, vision_config: {}, text_config: {} }, 'bench RN50');
  const resnet = { layers: [3, 4, 6, 3], width: 64 };
  const rn50 = { ...base, resnet, vision: config.resnetVisionConfig(resnet, 224) };
  const t0 = performance.now();
  const model = seededClip(rn50, 2024, 'float32', be);
  const load = performance.now() - t0;
  const report = { backend: be.describe(), loadMs: load, forward: [] };
  console.log(`\n## CLIP RN50 (seeded), ${be.describe()}: ms, median of ${reps}`);
  console.log(`${'load (seeded weights)'.padEnd(34)} ${load.toFixed(0).padStart(8)}`);
  for (const B of [1, 11]) {
    const pixels = { data: seededUniform(3, 'pixels', B * 3 * 224 * 224, 2, 0, 'float32'), shape: [B, 3, 224, 224] };
    log(`rn50: forward of ${B} image(s)`);
    const m = measure(() => encodeImages(model, pixels), B === 1 ? reps : Math.max(1, Math.min(reps, 3)));
    report.forward.push({ images: B, ms: m.wall, cpuMs: m.cpu });
    console.log(`${`image forward, ${B} image${B > 1 ? 's' : ''}`.padEnd(34)} ${m.wall.toFixed(0).padStart(8)}   (cpu ${m.cpu.toFixed(0)})`);
  }
  const rgb = { data: seededUniform(7, 'rgb', 3 * 224 * 224, 0.5, 0.5, 'float64'), shape: [3, 224, 224] };
  const target = embeddingTarget(seededUniform(5, 'text', 1024, 1, 0, 'float32'), 'cosine', 'seeded text embedding');
  const runs = [];
  for (let r = 0; r < Math.max(1, Math.min(reps, 3)); r++) {
    log(`rn50: decomcam run ${r + 1}`);
    const s = performance.now();
    const ex = explain(model, rgb, [target], { method: 'decomcam', preset: 'paper', P: 500, Q: 10 });
    runs.push({ ...ex.timings, ...ex.results[0].timings, total: performance.now() - s });
  }
  const stages = {};
  for (const k of Object.keys(runs[0])) stages[k] = median(runs.map((x) => x[k] ?? 0));
  report.decomcam = { stages, runs: runs.length, peakRssMB: process.resourceUsage().maxRSS / 1024, wasmMemory: be.memoryStats() };
  console.log(`DecomCAM at visual.layer4, paper preset, P = 500, Q = 10 (ms, median of ${runs.length}):`);
  for (const [k, v] of Object.entries(stages)) console.log(`${k.padEnd(34)} ${v.toFixed(0).padStart(8)}`);
  console.log(`${'peak RSS (MB)'.padEnd(34)} ${report.decomcam.peakRssMB.toFixed(0).padStart(8)}`);
  be.close();
  return report;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const usage = 'usage: node tools/bench_conv.js [--parts model,shapes] [--threads 1,2] [--reps 5] [--rounds 1]\n'
    + '         [--set rn50,tiny] [--kinds forward,dx,batch] [--json FILE]\n'
    + '  the wasm convolutions per layer shape as a share of the core\'s SIMD ceiling (issue 15); see the file\'s header\n';
  let args;
  try {
    ({ values: args } = parseArgs({
      options: {
        parts: { type: 'string', default: 'shapes' },
        threads: { type: 'string', default: '1,2' }, reps: { type: 'string', default: '5' },
        rounds: { type: 'string', default: '1' }, set: { type: 'string', default: 'rn50,tiny' },
        kinds: { type: 'string', default: 'forward,dx,batch' }, json: { type: 'string' }, help: { type: 'boolean' },
      },
    }));
  } catch (e) {
    process.stderr.write(`bench_conv.js: ${e.message}\n${usage}`);
    process.exit(2);
  }
  if (args.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  const whole = (name, v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) {
      process.stderr.write(`bench_conv.js: --${name} must be a whole number >= 1, got '${v}'\n${usage}`);
      process.exit(2);
    }
    return n;
  };
  const parts = new Set(args.parts.split(','));
  const threads = args.threads.split(',').map((v) => whole('threads', v));
  const reps = whole('reps', args.reps), rounds = whole('rounds', args.rounds);
  const kinds = args.kinds.split(',');
  for (const k of kinds) {
    if (!['forward', 'dx', 'batch'].includes(k)) {
      process.stderr.write(`bench_conv.js: unknown kind '${k}' in --kinds (forward, dx, batch)\n${usage}`);
      process.exit(2);
    }
  }
  const report = {};
  if (parts.has('model')) report.model = await benchRn50Model({ threads: Math.max(...threads), reps });
  if (parts.has('shapes')) report.shapes = await benchConv({ threads, reps, rounds, sets: args.set.split(','), kinds });
  if (args.json) writeFileSync(args.json, JSON.stringify(report, null, 2));
}
