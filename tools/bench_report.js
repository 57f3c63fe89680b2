#!/usr/bin/env node
// tools/bench_report.js: what the report costs (issue 19's goals: writing it adds ≤ 0.3 s to the default tiny-model
// run, and the whole default run stays ≤ 1 s wall). Times, on the shipped model and sample scene: the explanation
// itself; the outputs the tool made before the report (overlay, map, components, maps.safetensors) and those it
// makes now (at the image's size, sorted and labelled components, mapImage); report.html alone; and the whole
// `node tools/explain.js` run, wall clock, in fresh processes. Medians of --runs (default 7).
//   node tools/bench_report.js [--runs 7] [--backend auto]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  loadClip, loadImage, explain, chooseBackend, encodePng, overlay, applyJet, serializeSafetensors, mapToImage, overlayInImage,
  greyInImage, componentsImage, renderReport, shippedModelDir,
} from 'decomcam';
import { repoRoot } from './lib/cli.js';

const args = process.argv.slice(2);
const opt = (name, d) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : d; };
const runs = Number(opt('runs', 7));
const backendName = opt('backend', 'auto');

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function time(fn) {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

const { backend, note } = chooseBackend(backendName);
console.error(note);
const model = loadClip(shippedModelDir, { backend });
const image = loadImage(join(shippedModelDir, 'sample.png'));
const text = 'a blue triangle';
let ex;
const tExplain = [], tBefore = [], tAfter = [], tReport = [];
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
  })));
}
backend.close?.();

// the whole default run, in fresh processes
const wall = [];
const dir = mkdtempSync(join(tmpdir(), 'decomcam-bench-report-'));
for (let i = 0; i < runs; i++) {
  const t = performance.now();
  const r = spawnSync(process.execPath, [join(repoRoot, 'tools', 'explain.js'), '--out', join(dir, `o${i}`), '--backend', backendName], { encoding: 'utf8' });
  wall.push(performance.now() - t);
  if (r.status !== 0) throw new Error(`explain.js failed: ${r.stderr}`);
}
rmSync(dir, { recursive: true, force: true });

const ms = (xs) => `${median(xs).toFixed(1)} ms (min ${Math.min(...xs).toFixed(1)})`;
console.log(`explain (trace on):           ${ms(tExplain)}`);
console.log(`outputs before the report:    ${ms(tBefore)}`);
console.log(`outputs now (image frame):    ${ms(tAfter)}`);
console.log(`report.html:                  ${ms(tReport)}`);
console.log(`added by issue 19 (report + outputs now − before): ${(median(tReport) + median(tAfter) - median(tBefore)).toFixed(1)} ms (goal ≤ 300)`);
console.log(`whole default run, wall:      ${ms(wall)} (goal ≤ 1000)`);
