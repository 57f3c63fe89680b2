// test/tiny_clip.test.js: the shipped model (weights/tiny-clip) read by our TS CLIP gives what PyTorch gave on the
// first held-out scenes (reference/fixtures/tiny_clip_zeroshot.*, written by reference/train_tiny_clip.py):
// preprocessed pixels, token ids, image and text embeddings, cosines and the zero-shot argmax.
import test from 'tape';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadClip } from '../dist/clip/load.js';
import { encodeImages, encodeTexts } from '../dist/clip/model.js';
import { loadImage } from '../dist/image/decode.js';
import { preprocessImage } from '../dist/image/preprocess.js';
import { readSafetensors } from '../dist/io/safetensors.js';
import { assertClose, fixturesDir, repoRoot } from './helpers/compare.js';
import { TOL } from './clip_tolerances.js';

const modelDir = join(repoRoot, 'weights', 'tiny-clip');
const scenesDir = join(repoRoot, 'weights', 'scenes-heldout');
const meta = JSON.parse(readFileSync(join(fixturesDir, 'tiny_clip_zeroshot.json'), 'utf8'));
const ref = readSafetensors(join(fixturesDir, 'tiny_clip_zeroshot.safetensors')).tensors;

test('tiny-clip: the shipped model and scenes are there', (t) => {
  for (const f of ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt', 'sample.json']) {
    t.ok(existsSync(join(modelDir, f)), `weights/tiny-clip/${f}`);
  }
  t.ok(existsSync(join(scenesDir, 'annotations.json')), 'weights/scenes-heldout/annotations.json');
  t.end();
});

test('tiny-clip: TS CLIP agrees with PyTorch on held-out scenes', (t) => {
  const model = loadClip(modelDir);
  const S = model.config.vision.imageSize;
  const B = meta.images.length;
  const pixels = new Float32Array(B * 3 * S * S);
  meta.images.forEach((f, b) => pixels.set(preprocessImage(loadImage(join(scenesDir, f)), S).data, b * 3 * S * S));
  assertClose(t, 'pixel_values', pixels, ref.get('pixel_values').data, TOL.float32.forward);

  const ids = meta.object_captions.map((c) => Array.from(model.tokenizer.tokenize(c, model.config.text.contextLength)));
  t.deepEqual(ids.flat(), Array.from(ref.get('text_ids').data, Number), `token ids of the ${ids.length} object captions`);

  const img = encodeImages(model, { data: pixels, shape: [B, 3, S, S] });
  assertClose(t, 'image_embeds', img.data, ref.get('image_embeds').data, TOL.float32.forward);
  const txt = encodeTexts(model, meta.object_captions);
  assertClose(t, 'text_embeds', txt.data, ref.get('text_embeds').data, TOL.float32.forward);

  const E = model.config.embedDim;
  const T = meta.object_captions.length;
  const cos = new Float64Array(B * T);
  const argmax = [];
  for (let b = 0; b < B; b++) {
    let best = 0;
    for (let k = 0; k < T; k++) {
      let dot = 0, nv = 0, nt = 0;
      for (let e = 0; e < E; e++) {
        const v = img.data[b * E + e], u = txt.data[k * E + e];
        dot += v * u; nv += v * v; nt += u * u;
      }
      cos[b * T + k] = dot / Math.sqrt(nv * nt);
      if (cos[b * T + k] > cos[b * T + best]) best = k;
    }
    argmax.push(best);
  }
  assertClose(t, 'cosine', cos, ref.get('cosine').data, TOL.float32.forward);
  t.deepEqual(argmax, meta.argmax, `zero-shot argmax on ${B} scenes: ${meta.argmax_caption.join(' | ')}`);
  t.end();
});
