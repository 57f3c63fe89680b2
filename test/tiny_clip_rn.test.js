// test/tiny_clip_rn.test.js: the shipped ResNet CLIP (weights/tiny-clip-rn, an openai/CLIP state dict) read by our
// TS CLIP gives what PyTorch gave on the first held-out scenes (reference/fixtures/tiny_clip_rn_zeroshot.*, written
// by reference/train_tiny_clip.py --arch rn): preprocessed pixels (224 x 224), token ids, image and text embeddings,
// cosines and the zero-shot argmax. Its held-out accuracy is PyTorch's, in weights/tiny-clip-rn/train_log.json.
import test from 'tape';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadClip } from '../dist/clip/load.js';
import { encodeImages, encodeTexts } from '../dist/clip/model.js';
import { loadImage } from '../dist/image/decode.js';
import { preprocessImage } from '../dist/image/preprocess.js';
import { readSafetensors } from '../dist/io/safetensors.js';
import { cosineRow } from '../dist/cam/target.js';
import { assertClose, fixturesDir, repoRoot } from './helpers/compare.js';
import { RESNET_TOL } from './tolerances.js';

const modelDir = join(repoRoot, 'weights', 'tiny-clip-rn');
const scenesDir = join(repoRoot, 'weights', 'scenes-heldout');
const meta = JSON.parse(readFileSync(join(fixturesDir, 'tiny_clip_rn_zeroshot.json'), 'utf8'));
const ref = readSafetensors(join(fixturesDir, 'tiny_clip_rn_zeroshot.safetensors')).tensors;

test('tiny-clip-rn: the shipped ResNet is an OpenAI state dict with its tokenizer, no config.json', (t) => {
  for (const f of ['model.safetensors', 'vocab.json', 'merges.txt', 'preprocessor_config.json', 'sample.json']) {
    t.ok(existsSync(join(modelDir, f)), `weights/tiny-clip-rn/${f}`);
  }
  t.notOk(existsSync(join(modelDir, 'config.json')), 'no config.json (the loader infers a ResNet from its shapes)');
  t.end();
});

test('tiny-clip-rn: TS CLIP agrees with PyTorch on held-out scenes', (t) => {
  const model = loadClip(modelDir);
  const S = model.config.vision.imageSize;
  t.equal(S, 224, 'input 224 x 224: visual.layer4 is a 7 x 7 grid');
  const B = meta.images.length;
  const pixels = new Float32Array(B * 3 * S * S);
  meta.images.forEach((f, b) => pixels.set(preprocessImage(loadImage(join(scenesDir, f)), S).data, b * 3 * S * S));
  assertClose(t, 'pixel_values', pixels, ref.get('pixel_values').data, RESNET_TOL.float32.forward);

  const ids = meta.object_captions.map((c) => Array.from(model.tokenizer.tokenize(c, model.config.text.contextLength)));
  t.deepEqual(ids.flat(), Array.from(ref.get('text_ids').data, Number), `token ids of the ${ids.length} object captions`);

  const img = encodeImages(model, { data: pixels, shape: [B, 3, S, S] });
  assertClose(t, 'image_embeds', img.data, ref.get('image_embeds').data, RESNET_TOL.float32.forward);
  const txt = encodeTexts(model, meta.object_captions);
  assertClose(t, 'text_embeds', txt.data, ref.get('text_embeds').data, RESNET_TOL.float32.forward);

  const T = meta.object_captions.length;
  const E = model.config.embedDim;
  const cos = new Float64Array(B * T);
  const argmax = [];
  for (let b = 0; b < B; b++) {
    let best = 0;
    for (let k = 0; k < T; k++) {
      cos[b * T + k] = cosineRow(img.data, b, txt.data.subarray(k * E, (k + 1) * E), E);
      if (cos[b * T + k] > cos[b * T + best]) best = k;
    }
    argmax.push(best);
  }
  assertClose(t, 'cosine', cos, ref.get('cosine').data, RESNET_TOL.float32.forward);
  t.deepEqual(argmax, meta.argmax, `zero-shot argmax on ${B} scenes: ${meta.argmax_caption.join(' | ')}`);
  t.end();
});
