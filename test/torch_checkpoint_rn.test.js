// test/torch_checkpoint_rn.test.js: a ResNet CLIP's PyTorch checkpoints (reference/torch_checkpoint_rn_fixtures.py:
// openai/CLIP's model.py, stem width 4, layers [1,1,1,1], 64 px) — a torch.save state dict (float32) and a traced
// TorchScript archive in float16 as OpenAI's RN50.pt — read by src/io/torch.ts with exactly the names torch gives
// and the reference's values (bit for bit, fp16-rounded for the archive); loadClip infers the ResNet config and
// its embeddings match PyTorch's (RESNET_TOL); tools/explain.js runs on the .pt; cut or corrupted copies fail clearly.
import test from 'tape';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openTorchCheckpoint, readTorchCheckpoint } from '../dist/io/torch.js';
import { readSafetensors } from '../dist/io/safetensors.js';
import { readZip } from '../dist/io/zip.js';
import { floatToHalf, halfToFloat } from '../dist/io/half.js';
import { loadClip } from '../dist/clip/load.js';
import { parameterCount } from '../dist/clip/config.js';
import { encodeImages, encodeTokens } from '../dist/clip/model.js';
import { normalize } from '../dist/image/preprocess.js';
import { seededUniform } from '../dist/tensor/rng.js';
import { DecomcamError } from '../dist/errors.js';
import { assertClose, fixturesDir, repoRoot } from './helpers/compare.js';
import { RESNET_TOL } from './tolerances.js';

const DIR = join(fixturesDir, 'torch_rn');
const SD = join(DIR, 'state_dict.pt');
const JIT = join(DIR, 'RN-tiny.pt');
const info = JSON.parse(readFileSync(join(fixturesDir, 'torch_rn.json'), 'utf8'));
const ref = readSafetensors(join(DIR, 'reference.safetensors')).tensors;
const roundHalf = (x) => halfToFloat(floatToHalf(x));
const S = info.config.image_resolution;

// Bit-level equality of two arrays (floats through float64 bits, so -0 and NaN payloads count; int64 as BigInt).
function firstDiff(a, b) {
  if (a.length !== b.length) return `length ${a.length} vs ${b.length}`;
  if (typeof a[0] === 'bigint' || typeof b[0] === 'bigint') {
    for (let i = 0; i < a.length; i++) if (BigInt(a[i]) !== BigInt(b[i])) return `[${i}] ${a[i]} vs ${b[i]}`;
    return null;
  }
  const fa = Float64Array.from(a), fb = Float64Array.from(b);
  const ua = new BigUint64Array(fa.buffer), ub = new BigUint64Array(fb.buffer);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return `[${i}] ${fa[i]} vs ${fb[i]}`;
  return null;
}
const isCounter = (k) => k.endsWith('.num_batches_tracked');
const sorted = (xs) => [...xs].sort();

// the crop of the fixture: seededUniform(rgb_seed, 'rgb', 3·S·S, 0.5, 0.5), CLIP-normalised, rounded to float32
// (in float64 mode too: the reference ran on the rounded values)
const px = Float32Array.from(normalize({ data: seededUniform(info.rgb_seed, 'rgb', 3 * S * S, 0.5, 0.5, 'float64'), shape: [3, S, S] }).data);
const pixels = (dtype) => ({ data: dtype === 'float32' ? px : Float64Array.from(px), shape: [1, 3, S, S] });

// ---- the state dicts ----------------------------------------------------------------------------------

test('torch_rn state_dict.pt (torch.save, float32): the names torch.load gives, every tensor bit for bit', (t) => {
  const ck = readTorchCheckpoint(SD);
  t.equal(ck.format, 'torch.save', 'read as a torch.save file (its state dict found under "state_dict")');
  t.deepEqual(sorted(ck.tensors.keys()), sorted(info.state_dict_keys),
    `exactly the ${info.state_dict_keys.length} names of model.state_dict() (num_batches_tracked included)`);
  t.deepEqual(sorted(ref.keys()), sorted(info.state_dict_keys), 'reference.safetensors holds the same names');
  let floats = 0, counters = 0;
  for (const [name, r] of ref) {
    const g = ck.tensors.get(name);
    const d = firstDiff(g.data, r.data);
    const dtypeOk = isCounter(name) ? g.dtype === 'I64' : g.dtype === 'F32';
    if (!(dtypeOk && JSON.stringify(g.shape) === JSON.stringify(r.shape) && d === null)) {
      t.fail(`${name} ${g.dtype} [${g.shape}] vs [${r.shape}]: ${d ?? 'dtype/shape'}`);
    }
    if (isCounter(name)) counters++; else floats++;
  }
  t.pass(`${floats} float32 tensors identical to the reference (max |d| 0), ${counters} int64 num_batches_tracked equal`);
  t.end();
});

test('torch_rn RN-tiny.pt (traced TorchScript, float16): the names torch.jit.load gives, values the fp16-rounded reference', (t) => {
  const ck = readTorchCheckpoint(JIT);
  t.equal(ck.format, 'torchscript', 'read as a TorchScript archive');
  t.deepEqual(sorted(ck.tensors.keys()), sorted(info.torchscript_state_dict_keys),
    `exactly the ${info.torchscript_state_dict_keys.length} names of torch.jit.load(...).state_dict() (traced constants left out)`);
  let floats = 0;
  for (const [name, r] of ref) {
    const g = ck.tensors.get(name);
    if (isCounter(name)) {
      const d = firstDiff(g.data, r.data);
      if (g.dtype !== 'I64' || d !== null) t.fail(`${name}: ${g.dtype} ${d}`);
      continue;
    }
    const d = firstDiff(g.data, Array.from(r.data, roundHalf));
    if (!(g.dtype === 'F16' && g.data instanceof Float32Array && JSON.stringify(g.shape) === JSON.stringify(r.shape) && d === null)) {
      t.fail(`${name} ${g.dtype} [${g.shape}]: ${d ?? 'dtype/shape'}`);
    }
    floats++;
  }
  t.pass(`${floats} float16 tensors widened to float32 equal the fp16-rounded reference bit for bit`);
  const ints = Object.fromEntries(Object.keys(info.int_buffers).map((k) => [k, Number(ck.tensors.get(k).data[0])]));
  t.deepEqual(ints, info.int_buffers, 'int64 buffers (input_resolution, context_length, vocab_size, num_batches_tracked) as torch reads them');
  t.end();
});

test('torch_rn openTorchCheckpoint: the same names, dtypes and shapes, and readInto gives readTorchCheckpoint\'s floats', (t) => {
  for (const path of [SD, JIT]) {
    const read = readTorchCheckpoint(path);
    const opened = openTorchCheckpoint(path);
    try {
      t.deepEqual(sorted(opened.tensors.keys()), sorted(read.tensors.keys()), `${path.split('/').pop()}: the same ${read.tensors.size} names`);
      let n = 0;
      for (const [name, r] of read.tensors) {
        const o = opened.tensors.get(name);
        if (o.dtype !== r.dtype || JSON.stringify(o.shape) !== JSON.stringify(r.shape)) t.fail(`${name}: ${o.dtype} [${o.shape}] vs ${r.dtype} [${r.shape}]`);
        if (isCounter(name) || !(r.data instanceof Float32Array)) continue;
        for (const dst of [new Float32Array(r.data.length + 3), new Float64Array(r.data.length + 3)]) {
          o.readInto(dst, 3);
          const d = firstDiff(dst.subarray(3), r.data);
          if (d !== null) t.fail(`${name} readInto ${dst.constructor.name}: ${d}`);
        }
        n++;
      }
      t.pass(`  ${n} float tensors read into float32 and float64 at an offset: the same values`);
    } finally {
      opened.close();
    }
  }
  t.end();
});

// ---- loadClip -----------------------------------------------------------------------------------------

test('torch_rn loadClip: the ResNet configuration inferred as build_model does, parameters as the reference\'s', (t) => {
  const c = info.config;
  const want = loadClip(join(DIR, 'reference.safetensors')).params.data;
  for (const [path, values] of [[SD, want], [JIT, want.map(roundHalf)]]) {
    const m = loadClip(path);
    const name = path.split('/').pop();
    t.deepEqual(m.config.resnet, { layers: c.vision_layers, width: c.vision_width }, `${name}: layers and stem width`);
    t.deepEqual([m.config.vision.imageSize, m.config.vision.width, m.config.vision.heads, m.config.embedDim],
      [S, 32 * c.vision_width, (32 * c.vision_width) / 64, c.embed_dim],
      `${name}: image side ${S}, attention pool width and heads (width·32/64), E ${c.embed_dim}`);
    t.deepEqual([m.config.text.width, m.config.text.heads, m.config.text.layers, m.config.text.contextLength, m.config.text.vocabSize],
      [c.transformer_width, c.transformer_heads, c.transformer_layers, c.context_length, c.vocab_size], `${name}: the text tower`);
    t.equal(parameterCount(m.config), m.params.data.length, `${name}: parameterCount = ${m.params.data.length}`);
    t.equal(firstDiff(m.params.data, values), null,
      `${name}: every parameter ${path === SD ? 'bit for bit' : 'equals the fp16-rounded one'}`);
    t.ok(m.tokenizer !== null, `${name}: the tokenizer beside the file is picked up`);
  }
  t.end();
});

for (const dtype of ['float32', 'float64']) {
  test(`torch_rn loadClip ${dtype}: image and text embeddings vs openai/CLIP in torch (RESNET_TOL.${dtype}.forward)`, (t) => {
    const tol = RESNET_TOL[dtype].forward;
    for (const [path, weights] of [[SD, 'f32_weights'], [JIT, 'f16_weights']]) {
      const m = loadClip(path, { dtype });
      const name = path.split('/').pop();
      const image = encodeImages(m, pixels(dtype)).data;
      const text = encodeTokens(m, [Int32Array.from(info.ids)]).data;
      // the oracle: the file's weights computed in float64; float32 is also held to torch's own float32 run
      const r = info.embeddings[`${weights}.float64`];
      assertClose(t, `${name} ${dtype} image embedding`, image, r.image, tol);
      assertClose(t, `${name} ${dtype} text embedding`, text, r.text, tol);
      if (dtype === 'float32') {
        const r32 = info.embeddings[`${weights}.float32`];
        assertClose(t, `${name} f32 image vs torch float32`, image, r32.image, tol);
        assertClose(t, `${name} f32 text vs torch float32`, text, r32.text, tol);
      }
    }
    t.end();
  });
}

// ---- the command-line tool and broken files ------------------------------------------------------------

const tmp = mkdtempSync(join(tmpdir(), 'decomcam-torch-rn-'));

test('torch_rn: tools/explain.js --model RN-tiny.pt runs (default layer visual.layer4) and writes its outputs', (t) => {
  const out = join(tmp, 'explain-out');
  const r = spawnSync(process.execPath, [join(repoRoot, 'tools', 'explain.js'), '--model', JIT,
    '--image', join(repoRoot, 'weights', 'tiny-clip', 'sample.png'), '--text', info.prompt, '--components', '2',
    '--top-p', '16', '--backend', 'ts', '--out', out, '--json'], { encoding: 'utf8' });
  t.equal(r.status, 0, `exit 0${r.status ? `: ${r.stderr.trim().split('\n').pop()}` : ''}`);
  t.ok(existsSync(join(out, 'result.json')), 'result.json written');
  if (r.status === 0) t.equal(JSON.parse(r.stdout).layer, 'visual.layer4', 'layer visual.layer4');
  t.end();
});

test('torch_rn: truncated and corrupted copies of RN-tiny.pt get a DecomcamError naming the file', (t) => {
  const good = readFileSync(JIT);
  const zip = readZip(good, 'RN-tiny.pt');
  const pkl = zip.entries.get('RN-tiny/data.pkl');
  // the pickle's own bytes overwritten: the zip is intact, data.pkl is garbage
  const garbled = Buffer.from(good);
  garbled.fill(0xff, pkl.dataStart + 2, pkl.dataStart + 66); // (after the protocol opcode)
  const cases = [['cut at 1 KB', good.subarray(0, 1024)], ['cut in half', good.subarray(0, good.length >> 1)],
    ['last byte cut', good.subarray(0, good.length - 1)], ['data.pkl garbled', garbled]];
  cases.forEach(([label, bytes], i) => {
    const path = join(tmp, `bad-${i}.pt`);
    writeFileSync(path, bytes);
    for (const [how, fn] of [['loadClip', () => loadClip(path)], ['openTorchCheckpoint', () => openTorchCheckpoint(path).close()]]) {
      try {
        fn();
        t.fail(`${label}, ${how}: no error`);
      } catch (e) {
        t.ok(e instanceof DecomcamError && e.message.includes(path), `${label}, ${how}: ${e.message.slice(0, 170)}`);
      }
    }
  });
  t.end();
});

test('torch_rn teardown', (t) => { rmSync(tmp, { recursive: true, force: true }); t.end(); });
