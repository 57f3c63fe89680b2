// test/report_stages.test.js: stages.safetensors (issue 19, pt 7) — the file a person porting DecomCAM compares
// against. Written by report/stages.ts, read back, every stage compared with the PyTorch reference
// (reference/fixtures/cam_tiny.*, the fixture test/cam.test.js compares the library with) at that test's
// tolerances, in float32 and float64 mode; the stages the fixture does not hold (PCA mean, U·S, components, the
// map before normalisation) are checked through the identities that define them, on the fixture's own X and map.
// Then the command line: --stages --dtype float64 writes exactly those tensors, all F64, all documented.
import test from 'tape';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadClip, loadImage, explain, stageTensors, STAGE_DOCS, serializeSafetensors, parseSafetensors, readSafetensors, encodePng, tsBackend } from '../dist/index.js';
import { assertClose, fixturesDir, repoRoot } from './helpers/compare.js';
import { CAM_TOL } from './cam_tolerances.js';

const fx = readSafetensors(join(fixturesDir, 'cam_tiny.safetensors')).tensors;
const meta = JSON.parse(readFileSync(join(fixturesDir, 'cam_tiny.json'), 'utf8'));
const ref = (name) => fx.get(name).data;
const modelDir = join(fixturesDir, 'tiny_clip_hf');
const rgb = { data: Float64Array.from(ref('input.rgb')), shape: [3, 32, 32] };
const presets = { official: { eps: 1e-7, passes: 2 }, paper: { eps: 0, passes: 1 } };

// stage name in the file → fixture key (prefixed by dt.k.preset), tolerance column
const DIRECT = [
  ['layer.grads', 'grads', 'grad'], ['alpha', 'alpha', 'grad'], ['X', 'X', 'derived'], ['pca.singularValues', 'singular_values', 'derived'],
  ['ossm', 'ossm', 'derived'], ['M', 'M', 'derived'], ['masks', 'masks', 'derived'], ['blur', 'blur', 'forward'],
  ['batch', 'batch', 'derived'], ['s', 's', 'derived'], ['s0', 's0', 'derived'], ['weights', 'w', 'derived'], ['map', 'map', 'map'],
];

// How many DIRECT stages the fixture holds, by text and preset (text 1 has no grads, blur or batch; the official
// preset has no s0): a stage missing from the fixture fails the count instead of being skipped silently.
const DIRECT_COUNT = { 0: { official: 12, paper: 13 }, 1: { official: 9, paper: 10 } };

// ReLU then min-max with eps, `passes` times (cam/decomcam.ts integrate's normalisation)
function normalise(x, eps, passes) {
  const m = Float64Array.from(x);
  for (let k = 0; k < passes; k++) {
    for (let i = 0; i < m.length; i++) m[i] = Math.max(m[i], 0);
    let lo = Infinity, hi = -Infinity;
    for (const v of m) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    for (let i = 0; i < m.length; i++) m[i] = (m[i] - lo) / (hi - lo + eps);
  }
  return m;
}

for (const dt of ['f32', 'f64']) {
  const dtype = dt === 'f32' ? 'float32' : 'float64';
  const model = loadClip(modelDir, { dtype });
  const tol = CAM_TOL[dt];
  for (const preset of Object.keys(presets)) {
    test(`stages.safetensors ${preset} ${dt}: written, read back, every stage against the PyTorch reference`, (t) => {
      const P = meta.P[preset];
      const ex = explain(model, rgb, meta.prompts, { preset, ...(P !== 500 ? { P } : {}), trace: true });
      ex.results.forEach((_, k) => {
        const pre = `${dt}.${k}.${preset}`;
        const file = parseSafetensors(serializeSafetensors(stageTensors(ex, k, dtype)), `stages ${pre}`).tensors;
        const get = (name) => file.get(name).data;
        t.ok([...file.keys()].every((n) => n in STAGE_DOCS), `${pre}: every name documented (${file.size} tensors)`);
        t.ok([...file.entries()].every(([n, v]) => (n === 'top' ? v.dtype === 'I64' : v.dtype === (dt === 'f64' ? 'F64' : 'F32'))), `${pre}: stored as ${dt === 'f64' ? 'F64' : 'F32'} (top as I64)`);
        assertClose(t, `${pre} input.rgb`, get('input.rgb'), ref('input.rgb'), tol.forward);
        assertClose(t, `${pre} layer.acts`, get('layer.acts'), ref(`${dt}.acts`), tol.forward);
        assertClose(t, `${pre} score`, get('score'), ref(`${pre}.score`), tol.forward);
        t.deepEqual(Array.from(get('top'), Number), Array.from(ref(`${pre}.top`), Number), `${pre} top (exact, in order)`);
        let compared = 0;
        for (const [name, key, col] of DIRECT) {
          if (!fx.has(`${pre}.${key}`)) continue;
          assertClose(t, `${pre} ${name}`, get(name), ref(`${pre}.${key}`), tol[col]);
          compared++;
        }
        t.equal(compared, DIRECT_COUNT[k][preset], `${pre}: ${compared} stages compared directly`);
        // the stages the fixture does not hold, through their definitions on the fixture's own numbers
        const Xref = ref(`${pre}.X`), ossmRef = ref(`${pre}.ossm`);
        const K = get('top').length, Q = get('weights').length, hw = Xref.length / K;
        const mean = new Float64Array(K);
        for (let p = 0; p < hw; p++) for (let j = 0; j < K; j++) mean[j] += Xref[p * K + j] / hw;
        assertClose(t, `${pre} pca.mean = column means of X`, get('pca.mean'), mean, tol.derived);
        const scoresRef = new Float64Array(hw * Q); // (h·w, Q) ← ossm (Q, h·w)
        for (let q = 0; q < Q; q++) for (let p = 0; p < hw; p++) scoresRef[p * Q + q] = ossmRef[q * hw + p];
        assertClose(t, `${pre} pca.scores = ossm as (h·w, Q)`, get('pca.scores'), scoresRef, tol.derived);
        const comp = get('pca.components'), proj = new Float64Array(hw * Q); // (X − mean)·Vᵀ = U·S
        for (let p = 0; p < hw; p++) for (let q = 0; q < Q; q++) { let s = 0; for (let j = 0; j < K; j++) s += (Xref[p * K + j] - mean[j]) * comp[q * K + j]; proj[p * Q + q] = s; }
        assertClose(t, `${pre} (X − pca.mean)·pca.componentsᵀ = U·S`, proj, scoresRef, tol.derived);
        const { eps, passes } = presets[preset];
        assertClose(t, `${pre} normalise(mapRaw) = map`, normalise(get('mapRaw'), eps, passes), ref(`${pre}.map`), tol.map);
        if (fx.has(`${pre}.s0`)) assertClose(t, `${pre} gains = s − s0`, get('gains'), Array.from(ref(`${pre}.s`), (v) => v - ref(`${pre}.s0`)[0]), tol.derived);
      });
      t.end();
    });
  }
}

test('explain.js --stages --dtype float64: stages.safetensors beside maps.safetensors, F64, what the library computes', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'decomcam-stages-'));
  const image = join(dir, 'in.png');
  writeFileSync(image, encodePng(new Uint8Array(40 * 32 * 3).map((_, i) => (i * 7) % 256), 32, 40));
  const out = join(dir, 'out');
  const r = spawnSync(process.execPath, [join(repoRoot, 'tools', 'explain.js'), '--model', modelDir, '--image', image, '--text', 'a red square',
    '--components', '3', '--dtype', 'float64', '--backend', 'ts', '--stages', '--out', out, '--json'], { encoding: 'utf8' });
  t.equal(r.status, 0, `exit 0 (${r.stderr.trim().split('\n').pop()})`);
  const files = JSON.parse(r.stdout).texts[0].files;
  t.equal(files.stages, '0-a-red-square/stages.safetensors', 'result.json names the file, beside maps.safetensors');
  const st = readSafetensors(join(out, files.stages));
  const ex = explain(loadClip(modelDir, { dtype: 'float64', backend: tsBackend }), loadImage(image), ['a red square'], { Q: 3, trace: true });
  const lib = stageTensors(ex, 0, 'float64');
  t.deepEqual([...st.tensors.keys()], Object.keys(lib), `the same ${Object.keys(lib).length} stages, in order`);
  for (const [name, v] of Object.entries(lib)) {
    const got = st.tensors.get(name);
    t.ok(got.dtype === v.dtype && got.shape.join() === v.shape.join() && got.data.every((x, i) => x === v.data[i]),
      `${name} ${got.dtype} [${got.shape}]: bit for bit the library's`);
  }
  t.equal(st.metadata?.dtype, 'float64', 'metadata says the dtype');
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const undocumented = Object.keys(STAGE_DOCS).filter((n) => !readme.includes(`\`${n}\``));
  t.deepEqual(undocumented, [], 'README.md documents every stage name');
  t.end();
});
