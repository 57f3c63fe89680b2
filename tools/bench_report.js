#!/usr/bin/env node
// tools/bench_report.js: what the report costs (issue 19's goals: writing it adds ≤ 0.3 s to the default tiny-model
// run, and the whole default run stays ≤ 1 s wall). Times, on the shipped model and sample scene: the explanation
// itself; the outputs the tool made before the report (overlay, map, components, maps.safetensors) and those it
// makes now (at the image's size, sorted and labelled components, mapImage); report.html alone; and the whole
// `node tools/explain.js` run, wall clock, in fresh processes. Medians of --runs (default 7).
// --models b32,b16,l14 instead times a whole explanation (DecomCAM, P 500, Q 10, paper) and its report on seeded
// CLIPs of the real models' sizes (openai/clip-vit-base-patch32, -base-patch16, -large-patch14) and a 640×480
// image: the run time a person can expect from a real CLIP on this machine (weights from a seed, so no download).
//   node tools/bench_report.js [--runs 7] [--backend auto]
//   node tools/bench_report.js --models b32,b16,l14
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  loadClip, loadImage, explain, chooseBackend, encodePng, overlay, applyJet, serializeSafetensors, mapToImage, overlayInImage,
  greyInImage, componentsImage, renderReport, shippedModelDir, seededClip, seededUniform, embeddingTarget,
} from 'decomcam';
import { parseHfConfig } from '../dist/clip/config.js';
import { repoRoot } from './lib/cli.js';

const args = process.argv.slice(2);
const opt = (name, d) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : d; };
const runs = Number(opt('runs', 7));
const backendName = opt('backend', 'auto');

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
// wall ms of fn; its CPU ms (user + system, all threads of this process) are pushed to `cpu` when given
function time(fn, cpu) {
  const c = process.cpuUsage();
  const t = performance.now();
  fn();
  const wall = performance.now() - t;
  if (cpu) { const u = process.cpuUsage(c); cpu.push((u.user + u.system) / 1000); }
  return wall;
}

const { backend, note } = chooseBackend(backendName);
console.error(note);

// The vision towers of the three OpenAI CLIPs on Hugging Face (their config.json's vision_config).
const REAL = {
  b32: { name: 'openai/clip-vit-base-patch32', projection_dim: 512, vision_config: { hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12, patch_size: 32, image_size: 224 } },
  b16: { name: 'openai/clip-vit-base-patch16', projection_dim: 512, vision_config: { hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12, patch_size: 16, image_size: 224 } },
  l14: { name: 'openai/clip-vit-large-patch14', projection_dim: 768, vision_config: { hidden_size: 1024, intermediate_size: 4096, num_hidden_layers: 24, num_attention_heads: 16, patch_size: 14, image_size: 224 } },
};
if (opt('models')) {
  const W = 640, H = 480;
  const px = new Uint8Array(W * H * 3).map((_, i) => (i * 2654435761) >>> 24);
  const photo = { width: W, height: H, data: px };
  for (const key of opt('models').split(',')) {
    const spec = REAL[key];
    if (!spec) throw new Error(`--models: ${key} is not one of ${Object.keys(REAL).join(', ')}`);
    const cfg = parseHfConfig({ model_type: 'clip', projection_dim: spec.projection_dim, vision_config: { ...spec.vision_config, hidden_act: 'quick_gelu' }, text_config: {} }, spec.name);
    let t = performance.now();
    const m = seededClip(cfg, 2024, 'float32', backend);
    const tLoad = performance.now() - t;
    const target = embeddingTarget(seededUniform(5, 'text', spec.projection_dim, 1, 0, 'float32'), 'cosine', 'seeded text embedding');
    t = performance.now();
    const ex = explain(m, photo, [target], { trace: true });
    const tExplain = performance.now() - t;
    t = performance.now();
    renderReport({ imageName: 'photo', image: photo, main: ex, compare: [], warnings: [], timingsMs: {}, version: 'bench',
      model: { name: spec.name, config: m.config, logitScale: m.logitScale, dtype: 'float32', backend: backend.name } });
    const tReport = performance.now() - t;
    const st = ex.results[0].timings;
    console.log(`${spec.name}: explain ${(tExplain / 1000).toFixed(2)} s (forward ${(ex.timings.forward / 1000).toFixed(2)}, ` +
      `perturbed ${(st.perturbed / 1000).toFixed(2)}), report ${(tReport / 1000).toFixed(2)} s; seeded weights ${(tLoad / 1000).toFixed(2)} s`);
  }
  backend.close?.();
  process.exit(0);
}
const model = loadClip(shippedModelDir, { backend });
const image = loadImage(join(shippedModelDir, 'sample.png'));
const text = 'a blue triangle';
let ex;
const tExplain = [], tBefore = [], tAfter = [], tReport = [], cReport = [];
for (let i = 0; i < runs; i++) {
  tExplain.push(time(() => { ex = explain(model, image, [text], { trace: true }); }));
  const r = ex.results[0], S = ex.S;
  const crop = { width: S, height: S, data: new Uint8Array(S * S * 3).map((_, k) => Math.round(ex.rgb.data[(k % 3) * S * S + Math.floor(k / 3)] * 255)) };
  // before issue 19: the crop's overlay, grey map, an unsorted components grid, maps.safetensors
  tBefore.push(time(() => {
    encodePng(overlay(crop, r.map.data, 0.5).data, S, S);
    encodePng(Uint8Array.from(r.map.data, (v) => Math.round(v * 255)), S, S);
    for (let q = 0; q < 10; q++) applyJet(r.masks.data.subarray(q * S * S, (q + 1) * S * S), S, S);
    const grid = componentsImage(r.masks.data, r.weights.data, S);
    encodePng(grid.data, grid.height, grid.width);
    serializeSafetensors({ map: { dtype: 'F32', shape: [S, S], data: Float32Array.from(r.map.data) } });
  }));
  // now: the same, plus the image-frame overlay and grey map and mapImage
  tAfter.push(time(() => {
    const fm = mapToImage(r.map.data, S, image.height, image.width);
    encodePng(overlayInImage(image, fm).data, image.height, image.width);
    encodePng(overlay(crop, r.map.data, 0.5).data, S, S);
    encodePng(greyInImage(fm), image.height, image.width);
    const grid = componentsImage(r.masks.data, r.weights.data, S);
    encodePng(grid.data, grid.height, grid.width);
    serializeSafetensors({ map: { dtype: 'F32', shape: [S, S], data: Float32Array.from(r.map.data) },
      mapImage: { dtype: 'F32', shape: [image.height, image.width], data: Float32Array.from(fm.map) } });
  }));
  tReport.push(time(() => renderReport({
    imageName: 'sample.png', image, main: ex, compare: [], warnings: [], timingsMs: {}, version: 'bench',
    model: { name: shippedModelDir, config: model.config, logitScale: model.logitScale, dtype: 'float32', backend: backend.name },
  }), cReport));
}
backend.close?.();

// the whole default run, in fresh processes (with its CPU time where GNU time is there to read it: on a shared
// machine the wall clock says as much about the neighbours as about the run)
const wall = [], cpuRun = [], reportMs = [];
const dir = mkdtempSync(join(tmpdir(), 'decomcam-bench-report-'));
const gnuTime = existsSync('/usr/bin/time');
for (let i = 0; i < runs; i++) {
  const cmd = [process.execPath, join(repoRoot, 'tools', 'explain.js'), '--out', join(dir, `o${i}`), '--backend', backendName];
  const t = performance.now();
  const r = gnuTime ? spawnSync('/usr/bin/time', ['-f', 'cpu %U %S', ...cmd], { encoding: 'utf8' }) : spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8' });
  wall.push(performance.now() - t);
  if (r.status !== 0) throw new Error(`explain.js failed: ${r.stderr}`);
  const m = /cpu ([0-9.]+) ([0-9.]+)/.exec(r.stderr);
  if (m) cpuRun.push((Number(m[1]) + Number(m[2])) * 1000);
  reportMs.push(JSON.parse(readFileSync(join(dir, `o${i}`, 'result.json'), 'utf8')).timingsMs.report);
}
rmSync(dir, { recursive: true, force: true });

const ms = (xs) => `${median(xs).toFixed(1)} ms (min ${Math.min(...xs).toFixed(1)})`;
console.log(`explain (trace on):           ${ms(tExplain)}`);
console.log(`outputs before the report:    ${ms(tBefore)}`);
console.log(`outputs now (image frame):    ${ms(tAfter)}`);
console.log(`report.html:                  ${ms(tReport)}, CPU ${ms(cReport)}`);
console.log(`report.html in the tool (cold, result.json's timingsMs.report): ${ms(reportMs)}`);
console.log(`added by issue 19 (report + outputs now − before): ${(median(tReport) + median(tAfter) - median(tBefore)).toFixed(1)} ms (goal ≤ 300)`);
console.log(`whole default run, wall:      ${ms(wall)} (goal ≤ 1000)${cpuRun.length ? `, CPU ${ms(cpuRun)}` : ''}`);
console.log(`load average (1 min) at the end: ${loadavg()[0].toFixed(2)} on ${cpus().length} cores`);
