// tools/lib/fuzz/cli.js: the cli fuzz target. Each case is one run of `node tools/explain.js` with a hostile mix of
// arguments (the issue's own: an earlier output as --image, --out '' / an existing file / a read-only place,
// --sigma 1e9, --image /dev/zero or a FIFO, --model /dev/null, a sample.json that is not JSON, --text --json, …),
// in a fresh folder of copied inputs. Besides exit status and stderr it checks that no input changed, that a
// failed run created no --out folder and that no staging folder was left behind.
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { encodePng } from 'decomcam';
import { repoRoot } from '../cli.js';
import { Rng } from './rng.js';
import { mutatePng } from './png.js';
import { watch, crashOutcome } from './pool.js';
import { unclearReason } from './classify.js';

const TOOL = join(repoRoot, 'tools', 'explain.js');

// A 48×40 picture with a red block and a blue block (as test/explain.test.js draws it).
function sceneBytes() {
  const W = 48, H = 40, px = new Uint8Array(W * H * 3).fill(40);
  for (let y = 5; y < 20; y++) for (let x = 5; x < 25; x++) px.set([220, 30, 30], (y * W + x) * 3);
  for (let y = 22; y < 38; y++) for (let x = 25; x < 45; x++) px.set([30, 30, 220], (y * W + x) * 3);
  return encodePng(px, H, W);
}

// Campaign-wide inputs, copied (never linked) so that no run can touch the repository's own files.
export function prepareCli(root) {
  const models = join(root, 'models');
  const scene = sceneBytes();
  mkdirSync(models, { recursive: true });
  cpSync(join(repoRoot, 'reference', 'fixtures', 'tiny_clip_hf'), join(models, 'tiny'), { recursive: true });
  writeFileSync(join(models, 'tiny', 'scene.png'), scene);
  writeFileSync(join(models, 'tiny', 'sample.json'), JSON.stringify({ image: 'scene.png', text: 'a red square' }));
  cpSync(join(models, 'tiny'), join(models, 'badsample'), { recursive: true });
  writeFileSync(join(models, 'badsample', 'sample.json'), '{"image": "scene.png", "text": ');
  cpSync(join(models, 'tiny'), join(models, 'escape'), { recursive: true });
  writeFileSync(join(models, 'escape', 'sample.json'), JSON.stringify({ image: '/dev/zero', text: 'x' }));
  cpSync(join(models, 'tiny'), join(models, 'devzero'), { recursive: true });
  rmSync(join(models, 'devzero', 'model.safetensors'));
  symlinkSync('/dev/zero', join(models, 'devzero', 'model.safetensors'));
  return { root, models, scene, hashes: hashTree(models) };
}

const IMAGES = ['in.png', 'prev/0-a-red-square/overlay.png', 'result.json', 'mutated.png', '/dev/zero', '/dev/null', 'fifo', 'folder',
  'empty.png', 'missing.png', '', null];
const TEXTS = ['a red square', 'a red square', 'a blue square', '', '  ', '--json', '--out', '--sigma', 'x'.repeat(20000),
  '猫の写真', '\u0001\u0002\u001b[31m', '&#x110000;', 'a\ud800b', '-', '--text'];
const OUTS = ['out', 'out', 'prev', '', 'file.txt', 'file.txt/sub', '/sys/decomcam-fuzz-out', '.', 'folder', null, '--json', 'in.png'];
const SIGMAS = ['10', '0', '1', '1e3', '1e6', '1e9', '1e300', '-1', 'NaN', 'Infinity', '1e400', '0x10', ''];
const MODELS = ['tiny', 'tiny', 'tiny', 'badsample', 'escape', 'devzero', '/dev/null', '/dev/zero', 'missing', 'file.txt', 'fifo', '', 'in.png'];

// → { desc, args, imageBytes } for case `index`; file names are relative to the case folder.
export function generateCli(rng, ctx) {
  const args = [];
  const add = (...a) => args.push(...a);
  // each part is the ordinary one more often than not, so that the hostile one meets a run that gets far
  const model = rng.chance(0.6) ? 'tiny' : rng.pick(MODELS);
  add('--model', ['tiny', 'badsample', 'escape', 'devzero'].includes(model) ? join(ctx.models, model) : model);
  const image = rng.chance(0.4) ? 'in.png' : rng.pick(IMAGES);
  if (image !== null) add('--image', image);
  const nTexts = rng.pick([0, 1, 1, 1, 2]);
  for (let k = 0; k < nTexts; k++) add('--text', rng.chance(0.6) ? 'a red square' : rng.pick(TEXTS));
  const out = rng.chance(0.5) ? 'out' : rng.pick(OUTS);
  if (out !== null) { if (rng.chance(0.8)) add('--out', out); else add(`--out=${out}`); }
  if (rng.chance(0.4)) add('--sigma', rng.pick(SIGMAS));
  if (rng.chance(0.2)) add('--components', rng.pick(['1', '3', '0', '1000000000', '-1', '2.5']));
  if (rng.chance(0.1)) add('--top-p', rng.pick(['1', '1000000000', '0']));
  if (rng.chance(0.15)) add('--method', rng.pick(['gradcam', 'eigencam', 'layercam', 'scorecam', 'nope', '']));
  if (rng.chance(0.1)) add('--layer', rng.pick(['vision.blocks.-1.ln_1', 'vision.blocks.99', 'x', '', 'vision.blocks.1e9']));
  if (rng.chance(0.1)) add('--dtype', rng.pick(['float64', 'float16']));
  add('--backend', rng.chance(0.9) ? 'ts' : rng.pick(['auto', 'wasm', 'nope']));
  if (rng.chance(0.3)) add('--json');
  if (rng.chance(0.1)) args.splice(rng.int(args.length + 1), 0, rng.pick(['--', 'stray', '--json=1', '--unknown', '--text', '--help', '=x']));
  if (rng.chance(0.05)) args.push(rng.pick(['--text', '--out', '--image']));
  const imageBytes = image === 'mutated.png' ? mutatePng(rng, ctx.scene)[0] : null;
  return { desc: args.map((a) => (a.length > 40 ? `${a.slice(0, 20)}…(${a.length})` : JSON.stringify(a))).join(' '), args, imageBytes };
}

// The case folder: the scene as in.png, an earlier output (prev/) holding it, a PNG named result.json, a FIFO, ...
function setupCase(dir, ctx, c) {
  mkdirSync(join(dir, 'prev', '0-a-red-square'), { recursive: true });
  mkdirSync(join(dir, 'folder'));
  writeFileSync(join(dir, 'in.png'), ctx.scene);
  writeFileSync(join(dir, 'prev', '0-a-red-square', 'overlay.png'), ctx.scene);
  writeFileSync(join(dir, 'result.json'), ctx.scene);
  writeFileSync(join(dir, 'file.txt'), 'an existing file\n');
  writeFileSync(join(dir, 'empty.png'), '');
  writeFileSync(join(dir, 'mutated.png'), c.imageBytes ?? ctx.scene);
  execFileSync('mkfifo', [join(dir, 'fifo')]);
}

function hashTree(root) {
  const out = new Map();
  const walk = (p) => {
    let st;
    try { st = statSync(p); } catch { return; }
    if (st.isDirectory()) { for (const f of readdirSync(p)) walk(join(p, f)); return; }
    if (st.isFile()) out.set(p, createHash('sha1').update(readFileSync(p)).digest('hex'));
  };
  walk(root);
  return out;
}

function lastValue(args, name) {
  let v = null;
  args.forEach((a, i) => { if (a === `--${name}` && i + 1 < args.length) v = args[i + 1]; else if (a.startsWith(`--${name}=`)) v = a.slice(name.length + 3); });
  return v;
}

// Runs case `index` under the watchdog → { index, outcome, detail, desc, ms, peakMb }.
export function runCliCase(ctx, seed, index, { timeMs, memMb }) {
  const c = generateCli(new Rng(seed, index), ctx);
  const dir = join(ctx.root, `case-${index}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  setupCase(dir, ctx, c);
  // the inputs: the image given (the sample image and all model files are in ctx.hashes)
  const imageArg = lastValue(c.args, 'image');
  const inputs = imageArg ? hashTree(resolve(dir, imageArg)) : new Map();
  const out = resolve(dir, lastValue(c.args, 'out') ?? './decomcam-out');
  const outExisted = existsSync(out);
  const t0 = Date.now();
  return new Promise((done) => {
    const child = spawn(process.execPath, [TOOL, ...c.args], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let killed = null;
    child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-8000); });
    const dog = watch(child, { timeMs, memMb }, (...k) => { killed = k; });
    child.on('exit', (code, signal) => {
      const peakMb = dog.stop();
      let [outcome, detail] = killed ?? judge(code, signal, stderr);
      // nothing the user gave may change: the case folder's inputs and the campaign's models
      const changed = [...inputs, ...ctx.hashes].filter(([p, h]) => hashTree(p).get(p) !== h).map(([p]) => p);
      if (changed.length > 0) ctx.hashes = hashTree(ctx.models); // report a changed model once, then go on
      if (changed.length > 0) [outcome, detail] = ['unclear', `DATA LOSS: changed ${changed.join(', ')} (${outcome}: ${detail})`];
      else if (outcome !== 'success' && !outExisted && existsSync(out) && out !== dir) [outcome, detail] = ['unclear', `a failed run created --out ${out}: ${detail}`];
      else if (readdirSync(dir).some((f) => f.includes('.partial-'))) [outcome, detail] = ['unclear', `staging folder left behind: ${detail}`];
      rmSync(dir, { recursive: true, force: true });
      done({ index, outcome, detail, desc: c.desc, ms: Date.now() - t0, peakMb });
    });
  });
}

function judge(code, signal, stderr) {
  const last = stderr.trim().split('\n').pop() ?? '';
  if (/^\s+at .+:\d+:\d+\)?$/m.test(stderr)) return ['unclear', `stack trace: ${last}`];
  if (code === 0) return ['success', last.slice(0, 200)];
  if (code !== 1 && code !== 2) return crashOutcome(code, signal, stderr);
  if (!last.startsWith('explain: ')) return ['unclear', `exit ${code} without an "explain: " line: ${last.slice(0, 200)}`];
  const why = unclearReason(last.slice('explain: '.length));
  return why ? ['unclear', `${why}: ${last.slice(0, 300)}`] : ['clean', `exit ${code}: ${last.slice(9, 300)}`];
}

// Cases [start, start+count) on `jobs` parallel runs.
export async function runCliCases({ seed, start, count, jobs, timeMs, memMb, scratch, onResult }) {
  const ctx = prepareCli(scratch);
  const results = new Array(count);
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      const r = await runCliCase(ctx, seed, start + i, { timeMs, memMb });
      results[i] = r;
      onResult?.(r);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, count) }, lane));
  return results;
}
