#!/usr/bin/env node
// tools/bench_load.js: how long loadClip takes on real ViT-B/16 files, and its peak memory — each file in a
// fresh child process, in three runs that split the time: the disk read alone, read + parse (the checkpoint
// reader: header checks, unpickling, widening), and the whole loadClip (+ the parameters filled into the
// backend's memory). Files live in --dir:
//   ViT-B-16.safetensors    OpenAI names, float32 (~600 MB), written here from the seeded B/16 if missing
//   ViT-B-16-fp16.pt        torch.save of the same weights in float16 (~300 MB)       } written by
//   ViT-B-16-jit.pt         torch.jit.save of an openai/CLIP-style module, float16     } reference/torch_checkpoint_fixtures.py --bench DIR
//   node tools/bench_load.js --dir /tmp/decomcam-load [--backend wasm] [--reps 3]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runMain, parseArgs, helpText } from './lib/cli.js';
import { chooseBackend, backendNames } from './lib/backend.js';
import { parseHfConfig } from '../dist/clip/config.js';
import { seededClip } from '../dist/clip/model.js';
import { loadClip } from '../dist/clip/load.js';
import { parseSafetensors, writeSafetensors } from '../dist/io/safetensors.js';
import { parseTorchCheckpoint } from '../dist/io/torch.js';
import { checkpointTensors } from './convert.js';

const SPEC = {
  dir: { type: 'string', default: '/tmp/decomcam-load', help: 'folder holding (or to hold) the files' },
  backend: { type: 'string', default: 'wasm', choices: backendNames(), help: 'backend whose memory receives the parameters' },
  reps: { type: 'int', min: 1, default: 3, help: 'runs of each measurement (the median is reported)' },
  child: { type: 'string', help: '(internal) measure one stage of one file: read, parse or load' },
  file: { type: 'string', help: '(internal) the file' },
  help: { type: 'bool', help: 'show this help' },
};
const FILES = ['ViT-B-16.safetensors', 'ViT-B-16-fp16.pt', 'ViT-B-16-jit.pt'];
const B16 = parseHfConfig({
  model_type: 'clip', projection_dim: 512,
  vision_config: { hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12, patch_size: 16, image_size: 224, hidden_act: 'quick_gelu' },
  text_config: {},
}, 'bench ViT-B/16');
const log = (msg) => process.stderr.write(`${msg}\n`);
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

// One stage in this (child) process; prints { ms, rssMB } as JSON.
async function child(stage, file, backendName) {
  const t0 = performance.now();
  if (stage === 'read') readFileSync(file);
  else if (stage === 'parse') {
    const bytes = readFileSync(file);
    if (file.endsWith('.safetensors')) parseSafetensors(bytes, file); else parseTorchCheckpoint(bytes, file);
  } else {
    const backend = await chooseBackend(backendName, () => {});
    const t1 = performance.now();
    loadClip(file, { backend });
    process.stdout.write(JSON.stringify({ ms: performance.now() - t1, rssMB: process.resourceUsage().maxRSS / 1024 }));
    return;
  }
  process.stdout.write(JSON.stringify({ ms: performance.now() - t0, rssMB: process.resourceUsage().maxRSS / 1024 }));
}

async function main(argv) {
  const opts = parseArgs(argv, SPEC);
  if (opts.help) { console.log(helpText('usage: node tools/bench_load.js [--dir DIR] [--backend NAME] [--reps N]', SPEC)); return; }
  if (opts.child) { await child(opts.child, opts.file, opts.backend); return; }
  mkdirSync(opts.dir, { recursive: true });
  const st = join(opts.dir, FILES[0]);
  if (!existsSync(st)) {
    log(`writing the seeded ViT-B/16 (seed 2024) with OpenAI names to ${st}`);
    writeSafetensors(st, checkpointTensors(seededClip(B16, 2024), 'openai', 'F32'), { format: 'pt', seed: '2024' });
  }
  const missing = FILES.filter((f) => !existsSync(join(opts.dir, f)));
  if (missing.length) log(`missing ${missing.join(', ')}: /usr/bin/python3 reference/torch_checkpoint_fixtures.py --bench ${opts.dir}`);
  const self = fileURLToPath(import.meta.url);
  console.log(`## loadClip on ViT-B/16 files, backend ${opts.backend} (median of ${opts.reps}, each run a fresh process)`);
  console.log(`${'file'.padEnd(24)} ${'read ms'.padStart(8)} ${'parse ms'.padStart(9)} ${'load ms'.padStart(8)}   ${'peak RSS MB: read'.padStart(17)} ${'parse'.padStart(6)} ${'load'.padStart(6)}`);
  for (const f of FILES) {
    const file = join(opts.dir, f);
    if (!existsSync(file)) continue;
    const row = {};
    for (const stage of ['read', 'parse', 'load']) {
      const runs = [];
      for (let r = 0; r < opts.reps; r++) {
        const p = spawnSync(process.execPath, [self, '--child', stage, '--file', file, '--backend', opts.backend], { encoding: 'utf8', maxBuffer: 1 << 20 });
        if (p.status !== 0) throw new Error(`${stage} of ${f} failed: ${p.stderr.trim()}`);
        runs.push(JSON.parse(p.stdout));
      }
      row[stage] = { ms: median(runs.map((x) => x.ms)), rssMB: median(runs.map((x) => x.rssMB)) };
    }
    console.log(`${f.padEnd(24)} ${row.read.ms.toFixed(0).padStart(8)} ${row.parse.ms.toFixed(0).padStart(9)} ${row.load.ms.toFixed(0).padStart(8)}   ` +
      `${row.read.rssMB.toFixed(0).padStart(17)} ${row.parse.rssMB.toFixed(0).padStart(6)} ${row.load.rssMB.toFixed(0).padStart(6)}`);
  }
}

runMain('bench_load', main);
