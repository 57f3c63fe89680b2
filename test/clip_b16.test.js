// test/clip_b16.test.js: the seeded full-size ViT-B/16 CLIP (weights from the seeded generator, never stored) in
// float32 against PyTorch (reference/clip_fixtures.py: torch float64 from the same float32 weights and pixels):
// image embedding, blocks.5 output, blocks.11.ln_1, the cosine score's gradient at blocks.11.ln_1, and text
// embeddings of three token sequences. One forward (the last block on the class token alone) and one backward
// to blocks.11.ln_1: several seconds of plain TypeScript. Tolerances: test/clip_tolerances.js.
import test from 'tape';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../dist/io/safetensors.js';
import { parseHfConfig } from '../dist/clip/config.js';
import { seededClip, encodeTokens } from '../dist/clip/model.js';
import { visionForward, visionBackward, getActivation } from '../dist/clip/vision.js';
import { seededUniform } from '../dist/tensor/rng.js';
import { tensor } from '../dist/tensor/tensor.js';
import { assertClose, fixturesDir } from './helpers/compare.js';
import { TOL } from './clip_tolerances.js';

function fixture(name) {
  const file = readSafetensors(join(fixturesDir, `${name}.safetensors`));
  const meta = JSON.parse(readFileSync(join(fixturesDir, `${name}.json`), 'utf8'));
  const get = (n) => tensor(file.tensors.get(n).data, file.tensors.get(n).shape);
  const rows = (n) => {
    const t = file.tensors.get(n);
    return Array.from({ length: t.shape[0] }, (_, i) => t.data.slice(i * t.shape[1], (i + 1) * t.shape[1]));
  };
  return { get, rows, meta };
}
const sameBits = (a, b) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

test('clip ViT-B/16 (seeded, float32): embeddings, blocks.5, blocks.11.ln_1 and its gradient vs PyTorch', (t) => {
  const fx = fixture('clip_b16');
  const config = parseHfConfig(fx.meta.config, 'clip_b16.json');
  const model = seededClip(config, fx.meta.model_seed, 'float32');
  const px = fx.get('pixels');
  t.ok(sameBits(seededUniform(fx.meta.pixel_seed, 'pixels', px.data.length, 2, 0, 'float32'), px.data),
    'seeded pixels equal reference/seeded.py bit for bit');
  t.comment(`torch float32's own distance from the float64 reference: ${JSON.stringify(fx.meta.torch_f32_max_rel_diff)}`);
  const run = visionForward(model, px, { keep: ['vision.blocks.5', 'vision.blocks.11.ln_1'] });
  for (const name of ['vision.blocks.5', 'vision.blocks.11.ln_1', 'vision.embeds']) {
    assertClose(t, name, getActivation(run, name).data, fx.get(name).data, TOL.float32.forward);
  }
  const g = visionBackward(model, run, fx.get('score.dembeds'), 'vision.blocks.11.ln_1');
  assertClose(t, 'grad.vision.blocks.11.ln_1', g.data, fx.get('grad.vision.blocks.11.ln_1').data, TOL.float32.grad);
  const text = encodeTokens(model, fx.rows('text.ids'));
  assertClose(t, 'text.embeds', text.data, fx.get('text.embeds').data, TOL.float32.forward);
  t.ok(sameBits(text.data.subarray(0, 512), text.data.subarray(512, 1024)), 'zero- and eot-padded ids: same embedding');
  t.end();
});
