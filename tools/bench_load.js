#!/usr/bin/env node
// tools/bench_load.js: how long loading real ViT-B/16 checkpoint files takes, and the peak memory — each
// measurement in a fresh child process, median of --reps: `read` reads the whole file (the page cache's speed,
// for reference: the loader never does this), `open` checks the header / zip records and data.pkl (no tensor
// data), `load` is loadClip into the backend's memory (each tensor read straight into its parameter), and
// `explain` a whole `tools/explain.js` run on the file (its own load time and peak RSS; needs a CLIP
// tokenizer, bpe_simple_vocab_16e6.txt.gz, in --dir or given by --vocab). Files live in --dir:
//   ViT-B-16.safetensors    OpenAI names, float32 (~600 MB), written here from the seeded B/16 if missing
//   ViT-B-16-fp16.pt        torch.save of the same weights in float16 (~300 MB)       } written by
//   ViT-B-16-jit.pt         torch.jit.save of an openai/CLIP-style module, float16     } reference/torch_checkpoint_fixtures.py --bench DIR
//   node tools/bench_load.js --dir /tmp/decomcam-load [--backend wasm] [--reps 3] [--vocab FILE]
// tools/bench.js runs the same measurements as its `load` part (measureLoad below).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runMain, parseArgs, helpText, repoRoot } from './lib/cli.js';
import { chooseBackend, backendNames } from './lib/backend.js';
import { parseHfConfig } from '../dist/clip/config.js';
import { seededClip } from '../dist/clip/model.js';
import { loadClip } from '../dist/clip/load.js';
import { openSafetensors, writeSafetensors } from '../dist/io/safetensors.js';
import { openTorchWeights } from '../dist/io/torch.js';
import { checkpointTensors } from './convert.js';

const SPEC = {
  dir: { type: 'string', default: '/tmp/decomcam-load', help: 'folder holding (or to hold) the files' },
  backend: { type: 'string', default: 'wasm', choices: backendNames(), help: 'backend whose memory receives the parameters' },
  reps: { type: 'int', min: 1, default: 3, help: 'runs of each measurement (the median is reported)' },
  vocab: { type: 'string', help: 'CLIP tokenizer for the explain.js runs (default: DIR/bpe_simple_vocab_16e6.txt.gz)' },
  'explain-reps': { type: 'int', min: 0, default: 1, help: 'explain.js runs per file (each a whole DecomCAM; 0: none)' },
  child: { type: 'string', help: '(internal) measure one stage of one file: read, open or load' },
  file: { type: 'string', help: '(internal) the file' },
  help: { type: 'bool', help: 'show this help' },
};
export const LOAD_FILES = ['ViT-B-16.safetensors', 'ViT-B-16-fp16.pt', 'ViT-B-16-jit.pt'];
const B16 = parseHfConfig({
  model_type: 'clip', projection_dim: 512,
  vision_config: { hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12, patch_size: 16, image_size: 224, hidden_act: 'quick_gelu' },
  text_config: {},
}, 'bench ViT-B/16');
const self = fileURLToPath(import.meta.url);
const log = (msg) => process.stderr.write(`${msg}\n`);
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
// a preload for the explain.js runs: its peak RSS, printed as it exits
const RSS_AT_EXIT = 'data:text/javascript,process.on("exit",()=>process.stderr.write(`\\nbench-load-rss-kb ${process.resourceUsage().maxRSS}\\n`))';

// One stage in this (child) process; prints { ms, cpuMs, rssMB } as JSON (CPU time: user + system, all threads).
async function child(stage, file, backendName) {
  let t0 = performance.now();
  let c0 = process.cpuUsage();
  if (stage === 'read') readFileSync(file);
  else if (stage === 'open') {
    const ck = file.endsWith('.safetensors') ? openSafetensors(file) : openTorchWeights(file);
    ck.close();
  } else {
    const backend = await chooseBackend(backendName, () => {});
    t0 = performance.now();
    c0 = process.cpuUsage();
    loadClip(file, { backend });
  }
  const cpu = process.cpuUsage(c0);
  process.stdout.write(JSON.stringify({ ms: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000, rssMB: process.resourceUsage().maxRSS / 1024 }));
}

// One whole explain.js run on the model file: its load time (from its timings line) and peak RSS.
function explainRun(file, vocab, backend) {
  const out = mkdtempSync(join(tmpdir(), 'decomcam-bench-load-'));
  try {
    const args = ['--import', RSS_AT_EXIT, join(repoRoot, 'tools', 'explain.js'), '--model', file, '--vocab', vocab, '--backend', backend,
      '--image', join(repoRoot, 'weights', 'tiny-clip', 'sample.png'), '--text', 'a blue triangle', '--out', join(out, 'o')];
    const p = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (p.status !== 0) throw new Error(`explain.js on ${file} failed: ${p.stderr.trim().slice(-2000)}`);
    const rss = /bench-load-rss-kb (\d+)/.exec(p.stderr);
    const load = /timings \(ms\):.*\bload ([\d.]+)/.exec(p.stderr);
    if (!rss || !load) throw new Error(`explain.js on ${file}: no timings or RSS line in its output`);
    return { ms: Number(load[1]), rssMB: Number(rss[1]) / 1024 };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/**
 * The measurements on the files in opts.dir ({ dir, backend, reps, 'explain-reps'?, vocab?, write? }): one row per file present, each
 * stage { ms, rssMB } (medians); explain is null without a tokenizer. Writes the safetensors file if it is missing
 * (unless write is false).
 */
export function measureLoad(opts) {
  const st = join(opts.dir, LOAD_FILES[0]);
  if (!existsSync(st) && opts.write !== false) {
    mkdirSync(opts.dir, { recursive: true });
    log(`writing the seeded ViT-B/16 (seed 2024) with OpenAI names to ${st}`);
    writeSafetensors(st, checkpointTensors(seededClip(B16, 2024), 'openai', 'F32'), { format: 'pt', seed: '2024' });
  }
  const missing = LOAD_FILES.filter((f) => !existsSync(join(opts.dir, f)));
  if (missing.length) log(`missing ${missing.join(', ')}: /usr/bin/python3 reference/torch_checkpoint_fixtures.py --bench ${opts.dir}`);
  const vocab = opts.vocab ?? join(opts.dir, 'bpe_simple_vocab_16e6.txt.gz');
  if (!existsSync(vocab)) log(`no CLIP tokenizer at ${vocab}: the explain.js runs are skipped (give --vocab)`);
  const rows = [];
  for (const f of LOAD_FILES) {
    const file = join(opts.dir, f);
    if (!existsSync(file)) continue;
    const row = { file: f };
    for (const stage of ['read', 'open', 'load', 'explain']) {
      const reps = stage === 'explain' ? opts['explain-reps'] ?? 1 : opts.reps;
      if (stage === 'explain' && (!existsSync(vocab) || reps === 0)) { row.explain = null; continue; }
      log(`bench_load: ${f}, ${stage}`);
      const runs = [];
      for (let r = 0; r < reps; r++) {
        if (stage === 'explain') { runs.push(explainRun(file, vocab, opts.backend)); continue; }
        const p = spawnSync(process.execPath, [self, '--child', stage, '--file', file, '--backend', opts.backend], { encoding: 'utf8', maxBuffer: 1 << 20 });
        if (p.status !== 0) throw new Error(`${stage} of ${f} failed: ${p.stderr.trim()}`);
        runs.push(JSON.parse(p.stdout));
      }
      row[stage] = { ms: median(runs.map((x) => x.ms)), cpuMs: stage === 'explain' ? null : median(runs.map((x) => x.cpuMs)), rssMB: median(runs.map((x) => x.rssMB)), runs };
    }
    rows.push(row);
  }
  return rows;
}

/** The rows of measureLoad as a table: wall ms (CPU ms of the load), then peak RSS in MB. */
export function loadTable(rows) {
  const n = (x, w) => (x === null || x === undefined ? '-' : x.toFixed(0)).padStart(w);
  const lines = [`${'file'.padEnd(22)} ${'read'.padStart(6)} ${'open'.padStart(6)} ${'load (cpu)'.padStart(12)} ${'explain:load'.padStart(12)}   ` +
    `${'peak RSS MB: read'.padStart(17)} ${'open'.padStart(5)} ${'load'.padStart(5)} ${'explain'.padStart(7)}`];
  for (const r of rows) {
    lines.push(`${r.file.padEnd(22)} ${n(r.read.ms, 6)} ${n(r.open.ms, 6)} ${n(r.load.ms, 5)} (${n(r.load.cpuMs, 4)}) ${n(r.explain?.ms, 12)}   ` +
      `${n(r.read.rssMB, 17)} ${n(r.open.rssMB, 5)} ${n(r.load.rssMB, 5)} ${n(r.explain?.rssMB, 7)}`);
  }
  return lines.join('\n');
}

async function main(argv) {
  const opts = parseArgs(argv, SPEC);
  if (opts.help) { console.log(helpText('usage: node tools/bench_load.js [--dir DIR] [--backend NAME] [--reps N] [--vocab FILE] [--explain-reps N]', SPEC)); return; }
  if (opts.child) { await child(opts.child, opts.file, opts.backend); return; }
  const rows = measureLoad(opts);
  console.log(`## loading ViT-B/16 files, backend ${opts.backend} (ms and peak RSS, median of ${opts.reps}, explain.js of ` +
    `${opts['explain-reps']}, each run a fresh process)`);
  console.log(loadTable(rows));
}

if (process.argv[1] && realpathSync(process.argv[1]) === self) runMain('bench_load', main);
