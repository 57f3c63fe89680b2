// test/explain.test.js: the command-line tool as a user meets it — outputs written whole, the library's
// numbers in them, and bad input answered by one clear line, exit 2 (usage) or 1 (runtime), nothing written.
import test from 'tape';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePng, loadImage } from '../dist/image/decode.js';
import { readSafetensors } from '../dist/io/safetensors.js';
import { loadClip } from '../dist/clip/load.js';
import { explain } from '../dist/cam/explain.js';
import { tsBackend } from '../dist/kernels/reference.js';
import { repoRoot, fixturesDir } from './helpers/compare.js';

const tool = join(repoRoot, 'tools', 'explain.js');
const model = join(fixturesDir, 'tiny_clip_hf');
const dir = mkdtempSync(join(tmpdir(), 'decomcam-explain-'));

// A 48×40 picture with a red block and a blue block.
const image = join(dir, 'two-blocks.png');
{
  const W = 48, H = 40, px = new Uint8Array(W * H * 3).fill(40);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const c = y >= 5 && y < 20 && x >= 5 && x < 25 ? [220, 30, 30] : y >= 22 && y < 38 && x >= 25 && x < 45 ? [30, 30, 220] : null;
      if (c) px.set(c, (y * W + x) * 3);
    }
  }
  writeFileSync(image, encodePng(px, H, W));
}

function run(args) {
  const r = spawnSync(process.execPath, [tool, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('explain.js: writes every file, and they hold what the library computes', (t) => {
  const out = join(dir, 'out');
  const r = run(['--model', model, '--image', image, '--text', 'a red square', '--text', 'a blue square',
    '--components', '3', '--out', out, '--json', '--backend', 'ts']);
  t.equal(r.code, 0, `exit 0 (stderr: ${r.err.trim().split('\n').pop()})`);
  const result = JSON.parse(r.out);
  t.deepEqual(result.texts.map((x) => x.text), ['a red square', 'a blue square'], 'one entry per text, in order');
  for (const entry of result.texts) {
    for (const f of Object.values(entry.files)) t.ok(existsSync(join(out, f)), `${f} written`);
  }
  t.deepEqual(JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')), result, 'result.json is what --json printed');

  const ex = explain(loadClip(model, { backend: tsBackend }), loadImage(image), // the tool ran --backend ts
    ['a red square', 'a blue square'], { Q: 3 });
  ex.results.forEach((lib, i) => {
    const st = readSafetensors(join(out, result.texts[i].files.maps));
    const map = st.tensors.get('map');
    const ossm = st.tensors.get('ossm');
    const weights = st.tensors.get('weights');
    t.deepEqual([map.shape, ossm.shape, weights.shape], [[32, 32], [3, 4, 4], [3]], `${lib.text}: map [S,S], ossm [Q,h,w], weights [Q]`);
    t.ok(map.data.every((x, k) => x === Math.fround(lib.map.data[k])), `${lib.text}: map equals the library's (float32)`);
    t.ok(ossm.data.every((x, k) => x === Math.fround(lib.ossm.data[k])), `${lib.text}: ossm equals the library's`);
    t.ok(weights.data.every((x, k) => x === Math.fround(lib.weights.data[k])), `${lib.text}: weights equal the library's`);
    t.equal(result.texts[i].score, lib.score, `${lib.text}: score in result.json`);
  });
  t.end();
});

test('explain.js: bad input is one clear line and an exit status; nothing is written', (t) => {
  const bad = join(dir, 'bad.jpg');
  writeFileSync(bad, 'not an image at all');
  const out = join(dir, 'never');
  const cases = [
    [['--image', bad, '--text', 'x'], 2, /not a PNG or JPEG file/],
    [['--image', join(dir, 'missing.png'), '--text', 'x'], 2, /does not exist/],
    [['--image', image, '--text', '  '], 2, /--text is empty/],
    [['--image', image, '--text', 'x', '--method', 'nope'], 2, /"nope" is not one of decomcam/],
    [['--image', image, '--text', 'x', '--layer', 'vision.blocks.7.ln_1'], 2, /layer "vision.blocks.7.ln_1" not found: this model has blocks 0-2/],
    [['--image', image, '--text', 'x', '--components', 'ten'], 2, /--components needs an integer/],
    [['--image', image, '--text', 'x', '--frobnicate'], 2, /unknown option --frobnicate/],
  ];
  for (const [args, code, re] of cases) {
    const r = run(['--model', model, ...args, '--out', out]);
    const last = r.err.trim().split('\n').pop();
    t.ok(r.code === code && re.test(last), `exit ${r.code} "${last}"`);
  }
  const notClip = run(['--model', dir, '--image', image, '--text', 'x', '--out', out]);
  t.equal(notClip.code, 2, `a folder that holds no CLIP model: exit 2 "${notClip.err.trim().split('\n').pop()}"`);
  t.notOk(existsSync(out), 'no output folder was created by any failed run');
  t.notOk(readdirSync(dir).some((f) => f.includes('.partial-')), 'no staging folder left behind');
  t.end();
});

test('explain.js: --help and --version', (t) => {
  const h = run(['--help']);
  t.ok(h.code === 0 && /--components/.test(h.out) && /--preset/.test(h.out), '--help lists the options');
  const v = run(['--version']);
  t.ok(v.code === 0 && /^decomcam \d+\.\d+\.\d+/.test(v.out), `--version: ${v.out.trim()}`);
  t.end();
});
