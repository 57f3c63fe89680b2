// tools/lib/shipped.js: advice for people who give the shipped tiny CLIP (weights/tiny-clip) what it cannot
// know. It was trained only on 128 × 128 scenes of coloured shapes captioned "a red circle and a blue star":
// a word that is not one of its caption words (vocab.json's whole-word tokens), or an image that is not such a
// scene (another size), gives a map of nothing in particular. The run goes on; the warning says why and where to
// read about a real CLIP.
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';

const SCENE_SIZE = 128;
const README_POINTER = 'see README.md, "Using a real CLIP", to explain photos with openai/clip-vit-base-patch16 and the like';

function real(p) {
  try { return realpathSync(p); } catch { return null; }
}

/** Whether `modelPath` is the shipped tiny CLIP folder `shippedDir`. */
export function isShippedModel(modelPath, shippedDir) {
  const a = real(modelPath);
  return a !== null && a === real(shippedDir);
}

/** The shipped model's caption words: the whole-word tokens of its vocab.json ("blue", "triangle", "and", "a"),
 * less the word endings its BPE merges made on the way ("riangle", "ellow": proper suffixes of another word). */
export function captionWords(modelDir) {
  const p = join(modelDir, 'vocab.json');
  if (!existsSync(p)) return null;
  const vocab = JSON.parse(readFileSync(p, 'utf8'));
  const tokens = Object.keys(vocab).filter((t) => t.endsWith('</w>') && t.length > 5).map((t) => t.slice(0, -4));
  const words = new Set(['a']);
  for (const w of tokens) if (!tokens.some((o) => o.length > w.length && o.endsWith(w))) words.add(w);
  return words;
}

/** Warnings for one image and its texts on the shipped model ([] when all is as it was trained). */
export function shippedModelWarnings(modelDir, image, texts) {
  const words = captionWords(modelDir);
  const out = [];
  if (words) {
    for (const t of texts) {
      const unknown = [...new Set(t.toLowerCase().split(/[^a-z]+/).filter((w) => w && !words.has(w)))];
      if (unknown.length) {
        out.push(`"${t}": the shipped model knows only coloured shapes; ${unknown.map((w) => `"${w}"`).join(', ')} ` +
          `${unknown.length > 1 ? 'are' : 'is'} not among its caption words (${[...words].sort().join(' ')}): ${README_POINTER}`);
      }
    }
  }
  if (image.width !== SCENE_SIZE || image.height !== SCENE_SIZE) {
    out.push(`the image is ${image.width}×${image.height}, not one of the ${SCENE_SIZE}×${SCENE_SIZE} shape scenes the shipped ` +
      `model was trained on (a photo?): it knows only coloured shapes; ${README_POINTER}`);
  }
  return out;
}
