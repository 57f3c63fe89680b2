#!/usr/bin/env node
// tools/bench.js: speed of the compute backends (issue 6). Three parts, each printed as a table on stdout:
//   kernels    GFLOP/s per op (ViT-B/16 shapes) and backend: ts, wasm on 1 and 2 threads, gpu (gpu.js); the
//              operands live where a model keeps them (the wasm backend's memory), so no call copies; then
//              one core's wasm SIMD peak (independent multiply-add chains, no memory) and the one-thread
//              linear rows as a share of it;
//   forward    one ViT-B/16 image forward per backend (seeded weights: the wasm backend holds them, and every
//              activation, in its own memory, so no call copies anything; --prepare matters only for a backend
//              with prepare() but no memory of its own);
//   decomcam   DecomCAM end to end on the seeded ViT-B/16 (paper preset, P = 500, Q = 10): time per stage
//              (load, preprocess, forward, backward, SVD, masks, perturbed forward, integration) and peak RSS.
//              It runs first, so that the peak RSS is its own and not the other parts' models.
//   load       loading REAL ViT-B/16 files (tools/bench_load.js, each run a fresh process): safetensors F32 and
//              the same weights as fp16 torch.save / TorchScript .pt, in --load-dir (made by bench_load.js and
//              reference/torch_checkpoint_fixtures.py --bench DIR; skipped when absent): open, loadClip, and a
//              whole explain.js run (with --vocab, a CLIP bpe_simple_vocab_16e6.txt.gz) — time and peak RSS.
// Every time is the median of --reps runs after one warm-up; "cpu" rates divide by the process's CPU time
// instead of the wall clock, which a busy shared machine disturbs less (meaningful for one thread).
// The PyTorch counterpart is reference/bench_torch.py. Progress goes to stderr.
//   conv       (not in the default --parts) the convolutions of CLIP RN50 and a tiny ResNet per layer shape on
//              wasm, 1 and 2 threads, as a share of the core's SIMD ceiling: tools/bench_conv.js (issue 15).
//   node tools/bench.js [--parts kernels,forward,decomcam,load,conv] [--backend auto|ts|wasm|gpu] [--threads N]
//                       [--reps 5] [--prepare] [--json FILE] [--load-dir DIR] [--vocab FILE]
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import {
  chooseBackend, createBackend, embeddingTarget, enableRelaxedSimd, encodeImages, explain, seededClip, seededUniform, tsBackend,
} from 'decomcam';
// the kernels below the public API, measured one by one
import { createGpuBackend, gpuModeUnavailable } from '../dist/kernels/gpujs/backend.js';
import { layernormForward } from '../dist/nn/layernorm.js';
import { activationForward } from '../dist/nn/gelu.js';
import { parseHfConfig } from '../dist/clip/config.js';
import { LOAD_FILES, loadTable, measureLoad } from './bench_load.js';
// fmaPeak: the one-core wasm SIMD multiply-add ceiling (10 chains of f32x4, assembled with wabt, a devDependency;
// a string saying why where it could not be measured), shared with the conv part
import { benchConv, fmaPeak, measure as measureMedian } from './bench_conv.js';

const { values: args } = parseArgs({
  options: {
    parts: { type: 'string', default: 'kernels,forward,decomcam,load' },
    backend: { type: 'string', default: 'auto' },
    threads: { type: 'string' },
    reps: { type: 'string', default: '5' },
    json: { type: 'string' },
    prepare: { type: 'boolean', default: false },
    'load-dir': { type: 'string', default: '/tmp/decomcam-load' },
    vocab: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write('usage: node tools/bench.js [--parts kernels,forward,decomcam,load,conv] [--backend auto|ts|wasm|gpu] '
    + '[--threads N] [--reps 5] [--prepare] [--json FILE] [--load-dir DIR] [--vocab FILE]\n');
  process.exit(0);
}
// the fused wasm build where the engine can have it (Node 20: a V8 flag, turned on here as the tools do)
if (process.env.DECOMCAM_WASM_FMA !== '0') enableRelaxedSimd();
const reps = Number(args.reps);
const parts = new Set(args.parts.split(','));
const log = (m) => process.stderr.write(`${m}\n`);
const report = { machine: machine(), kernels: [], forward: [], decomcam: null, load: null };

function machine() {
  return { node: process.version, cores: availableParallelism(), cpu: cpus()[0]?.model, loadAverage: loadavg() };
}

const median = (xs) => { const s = xs.slice().sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

// Runs fn reps times after a warm-up: median wall ms, median CPU ms (bench_conv.js's measure).
const measure = (fn, n = reps) => measureMedian(fn, n);

const seeded = (name, n) => seededUniform(1, name, n, 1, 0, 'float32');

// An operand where a model on this backend keeps its arrays: in the backend's own memory when it has one
// (the wasm backend: no copy per call), else as it is.
function place(be, arr) {
  if (!be.alloc) return arr;
  const own = be.alloc(arr.length);
  own.set(arr);
  return own;
}

// ---- kernels ----
const VIT = { N: 197, D: 768, F: 3072, H: 12, hd: 64 };

function kernelOps() {
  const { N, D, F, H, hd } = VIT;
  const linear = (label, M, K, Nout) => ({
    label, flop: 2 * M * K * Nout,
    setup(be) {
      const [inp, w, b, out] = [seeded('inp', M * K), seeded('w', Nout * K), seeded('b', Nout), new Float32Array(M * Nout)].map((a) => place(be, a));
      return () => be.matmul(out, inp, w, b, M, K, Nout);
    },
  });
  return [
    linear(`linear qkv ${N}x${D}->${3 * D}`, N, D, 3 * D),
    linear(`linear fc ${N}x${D}->${F}`, N, D, F),
    linear(`linear fc2 ${N}x${F}->${D}`, N, F, D),
    linear(`linear fc, 11 images ${11 * N}x${D}->${F}`, 11 * N, D, F),
    {
      label: `linear backward dinp ${N}x${D}<-${F}`, flop: 2 * N * D * F,
      setup(be) {
        const [dout, w, dinp] = [seeded('dout', N * F), seeded('w', F * D), new Float32Array(N * D)].map((a) => place(be, a));
        return () => be.matmulBackward(dinp, null, null, dout, null, w, N, D, F);
      },
    },
    {
      label: `attention ${N} tokens, ${H}x${hd}`, flop: 4 * N * N * H * hd,
      setup(be) {
        const [qkv, out, att] = [seeded('qkv', N * 3 * D), new Float32Array(N * D), new Float32Array(H * N * N)].map((a) => place(be, a));
        return () => be.attention(out, att, qkv, 1, N, N, H, hd, false);
      },
    },
    {
      label: `attention backward ${N} tokens`, flop: 8 * N * N * H * hd,
      setup(be) {
        const [qkv, out, att] = [seeded('qkv', N * 3 * D), new Float32Array(N * D), new Float32Array(H * N * N)].map((a) => place(be, a));
        be.attention(out, att, qkv, 1, N, N, H, hd, false);
        const [dout, dqkv, datt] = [seeded('dout', N * D), new Float32Array(N * 3 * D), new Float32Array(att.length)].map((a) => place(be, a));
        return () => be.attentionBackward(dqkv, datt, dout, att, qkv, 1, N, N, H, hd, false);
      },
    },
    {
      label: `layernorm ${N}x${D} (Melem/s)`, elems: N * D,
      setup(be) {
        const [inp, w, b, out, mean, rstd] = [seeded('x', N * D), seeded('w', D), seeded('b', D), new Float32Array(N * D),
          new Float32Array(N), new Float32Array(N)].map((a) => place(be, a));
        const f = be.layernorm ? be.layernorm.bind(be) : layernormForward;
        return () => f(out, mean, rstd, inp, w, b, N, D, 1e-5);
      },
    },
    {
      label: `quick_gelu ${N}x${F} (Melem/s)`, elems: N * F,
      setup(be) {
        const [inp, out] = [seeded('x', N * F), new Float32Array(N * F)].map((a) => place(be, a));
        const f = be.activation ? be.activation.bind(be) : activationForward;
        return () => f('quick_gelu', out, inp, N * F);
      },
    },
  ];
}

// [name, backend] of the wasm backend on `threads` threads, in the build `fma` picks ('auto': the fused one where
// the engine has it), named by what it runs ("wasm fma 2 threads", "wasm 1 thread").
function wasmEntry(threads, fma = 'auto') {
  const be = createBackend('wasm', { threads, fma });
  const fused = !be.unavailable() && be.fma ? ' fma' : '';
  return [`wasm${fused} ${threads} thread${threads > 1 ? 's' : ''}`, be];
}

// Whether 'auto' takes the fused build here: then the plain build is measured beside it.
const fusedHere = () => createBackend('wasm', { threads: 1 }).fma;

function kernelBackends() {
  const list = [['ts', tsBackend], wasmEntry(1), wasmEntry(2)];
  if (fusedHere()) list.push(wasmEntry(1, false), wasmEntry(2, false));
  const gwhy = gpuModeUnavailable('headlessgl');
  list.push([`gpu ${gwhy ? 'webasm' : 'headlessgl'}`, createGpuBackend()]);
  return list.filter(([name, be]) => {
    const why = be.unavailable?.();
    if (why) log(`kernels: ${name} skipped: ${why}`);
    return !why;
  });
}

async function benchKernels() {
  const ops = kernelOps();
  const rows = [];
  for (const [name, be] of kernelBackends()) {
    for (const op of ops) {
      // gpu.js on the CPU runs at ~1 GFLOP/s: only the small ops, and fewer runs
      if (name.startsWith('gpu') && (op.flop ?? 0) > 1e9) continue;
      log(`kernels: ${name} ${op.label}`);
      const run = op.setup(be);
      const t = measure(run, name.startsWith('gpu') || name === 'ts' ? Math.min(reps, 3) : reps);
      const work = op.flop ? op.flop / 1e9 : op.elems / 1e6;
      rows.push({ backend: name, op: op.label, ms: t.wall, rate: work / (t.wall / 1000), cpuRate: work / (t.cpu / 1000) });
    }
  }
  // ratios against ts on the same op, in the same run
  for (const r of rows) {
    const base = rows.find((x) => x.backend === 'ts' && x.op === r.op);
    r.vsTs = base ? r.rate / base.rate : null;
  }
  report.kernels = rows;
  report.fmaPeak = await fmaPeak(fusedHere());
  console.log('\n## kernels (GFLOP/s unless marked; median of runs; cpu = per second of process CPU time)');
  console.log(`${'op'.padEnd(40)} ${'backend'.padEnd(20)} ${'ms'.padStart(8)} ${'rate'.padStart(8)} ${'cpu'.padStart(8)} ${'x ts'.padStart(6)}`);
  for (const r of rows) {
    console.log(`${r.op.padEnd(40)} ${r.backend.padEnd(20)} ${r.ms.toFixed(2).padStart(8)} ${r.rate.toFixed(2).padStart(8)} `
      + `${r.cpuRate.toFixed(2).padStart(8)} ${(r.vsTs ? r.vsTs.toFixed(1) : '-').padStart(6)}`);
  }
  const peak = report.fmaPeak;
  if (typeof peak === 'string') {
    console.log(`(the one-core wasm SIMD peak was not measured: ${peak})`);
  } else {
    const [one] = wasmEntry(1);
    const linear = rows.filter((r) => r.backend === one && r.op.startsWith('linear'));
    const share = linear.map((r) => `${r.op.replace(/ \d+x\d+.*$/, '')} ${Math.round((100 * r.rate) / peak.rate)}%`).join(', ');
    console.log(`one core's wasm SIMD peak, ${peak.label}: ${peak.rate.toFixed(1)} GFLOP/s; `
      + `${one}, as a share of it: ${share}`);
  }
}

// ---- the seeded ViT-B/16 ----
const B16 = parseHfConfig({
  model_type: 'clip', projection_dim: 512,
  vision_config: { hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12, patch_size: 16, image_size: 224, hidden_act: 'quick_gelu' },
  text_config: {},
}, 'bench ViT-B/16');

// With --prepare, every vision weight is handed to the backend's prepare() once (the wasm backend copies one
// that lives outside its memory; the seeded model's weights already live in it); a backend without prepare()
// ignores this.
function prepareVision(model) {
  const be = model.backend;
  if (!be.prepare || !args.prepare) return;
  const { width: D, mlpWidth: F, patchSize: P } = model.config.vision;
  const vp = model.vision;
  be.prepare(vp.patchW, D, 3 * P * P);
  be.prepare(vp.proj, model.config.embedDim, D);
  for (const b of vp.blocks) {
    be.prepare(b.qkvW, 3 * D, D);
    be.prepare(b.projW, D, D);
    be.prepare(b.fcW, F, D);
    be.prepare(b.fc2W, D, F);
  }
}

function benchForward() {
  const pixels = { data: seededUniform(3, 'pixels', 3 * 224 * 224, 2, 0, 'float32'), shape: [1, 3, 224, 224] };
  const configs = [wasmEntry(2), wasmEntry(1), ...(fusedHere() ? [wasmEntry(2, false)] : []), ['ts', tsBackend]];
  console.log(`\n## ViT-B/16 forward, one image (seconds, median)${args.prepare ? ', weights prepared' : ''}`);
  for (const [name, be] of configs) {
    if (be.unavailable?.()) continue;
    log(`forward: ${name}`);
    const model = seededClip(B16, 2024, 'float32', be);
    prepareVision(model);
    const n = name === 'ts' ? 1 : reps; // plain TS takes several seconds a forward
    const t = measure(() => encodeImages(model, pixels), n); // a forward that gives its arrays back
    report.forward.push({ backend: name, seconds: t.wall / 1000, cpuSeconds: t.cpu / 1000, runs: n });
    be.close?.(); // the next model's weights need not sit beside this one's
    console.log(`${name.padEnd(20)} ${(t.wall / 1000).toFixed(3)} s   (cpu ${(t.cpu / 1000).toFixed(3)} s, ${n} run${n > 1 ? 's' : ''})`);
  }
  const ts = report.forward.find((f) => f.backend === 'ts');
  for (const f of report.forward) if (ts && f !== ts) console.log(`${f.backend}: ${(ts.seconds / f.seconds).toFixed(1)}x ts`);
}

function benchDecomcam() {
  const choice = chooseBackend(args.backend, args.threads ? { threads: Number(args.threads) } : {});
  log(choice.note);
  const t0 = performance.now();
  const model = seededClip(B16, 2024, 'float32', choice.backend);
  prepareVision(model);
  const load = performance.now() - t0;
  const rgb = { data: seededUniform(7, 'rgb', 3 * 224 * 224, 0.5, 0.5, 'float64'), shape: [3, 224, 224] };
  const target = embeddingTarget(seededUniform(5, 'text', 512, 1, 0, 'float32'), 'cosine', 'seeded text embedding');
  const runs = [];
  for (let r = 0; r < Math.max(1, Math.min(reps, 3)); r++) {
    log(`decomcam: run ${r + 1}`);
    const s = performance.now();
    const ex = explain(model, rgb, [target], { method: 'decomcam', preset: 'paper', P: 500, Q: 10 });
    const total = performance.now() - s;
    runs.push({ ...ex.timings, ...ex.results[0].timings, total });
  }
  const stages = {};
  for (const k of Object.keys(runs[0])) stages[k] = median(runs.map((x) => x[k] ?? 0));
  const rss = process.resourceUsage().maxRSS / 1024;
  const wasmMemory = choice.backend.memoryStats?.(); // the wasm backend's shared memory (parameters + activations)
  report.decomcam = { backend: choice.backend.name, note: choice.note, loadMs: load, stages, runs: runs.length, peakRssMB: rss, wasmMemory };
  console.log(`\n## DecomCAM, seeded ViT-B/16, paper preset, P = 500, Q = 10 (ms, median of ${runs.length}); ${choice.note}`);
  console.log(`${`load (seeded weights${args.prepare ? ' + prepare' : ''})`.padEnd(34)} ${load.toFixed(0).padStart(8)}`);
  for (const [k, v] of Object.entries(stages)) console.log(`${k.padEnd(34)} ${v.toFixed(0).padStart(8)}`);
  console.log(`${'peak RSS (MB)'.padEnd(34)} ${rss.toFixed(0).padStart(8)}`);
  if (wasmMemory) {
    const mb = (x) => (x / 2 ** 20).toFixed(0).padStart(8);
    console.log(`${'wasm memory: in use / size (MB)'.padEnd(34)} ${mb(wasmMemory.inUse)} / ${mb(wasmMemory.size).trim()}`);
  }
}

// Loading real files (tools/bench_load.js), when --load-dir holds them.
function benchLoad() {
  const dir = args['load-dir'];
  if (!existsSync(join(dir, LOAD_FILES[0]))) {
    console.log(`\n## loading ViT-B/16 files: skipped, no ${join(dir, LOAD_FILES[0])} (node tools/bench_load.js --dir ${dir} writes it;` +
      ` /usr/bin/python3 reference/torch_checkpoint_fixtures.py --bench ${dir} the .pt files)`);
    return;
  }
  const rows = measureLoad({ dir, backend: 'wasm', reps: Math.min(reps, 3), vocab: args.vocab, write: false });
  report.load = rows;
  console.log(`\n## loading ViT-B/16 files, backend wasm (ms and peak RSS, median of ${Math.min(reps, 3)}, each run a fresh process)`);
  console.log(loadTable(rows));
}

log(`load average (1, 5, 15 min): ${report.machine.loadAverage.map((x) => x.toFixed(2)).join(', ')}`);
if (parts.has('decomcam')) benchDecomcam();
if (parts.has('kernels')) await benchKernels();
if (parts.has('forward')) benchForward();
if (parts.has('load')) benchLoad();
if (parts.has('conv')) report.conv = await benchConv({ reps });
report.machine.loadAverageAtEnd = loadavg();
log(`load average at the end: ${report.machine.loadAverageAtEnd.map((x) => x.toFixed(2)).join(', ')}`);
if (args.json) writeFileSync(args.json, JSON.stringify(report, null, 2));
