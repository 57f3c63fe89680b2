// explorer/bench-core.js: the two timings of the browser benchmark, written once for both hosts: Node
// (tools/bench_browser.js passes the library from dist/) and a page's worker (bench-worker.js passes the
// browser bundle). Each is the median of `reps` runs after one warm-up, in ms.
//   tinyExplain  DecomCAM (paper preset) of the shipped tiny-clip on its sample scene, one text
//   b16Forward   one ViT-B/16 image forward with seeded weights, as tools/bench.js builds them
export const B16_HF = {
  model_type: 'clip', projection_dim: 512,
  vision_config: { hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12, patch_size: 16, image_size: 224, hidden_act: 'quick_gelu' },
  text_config: {},
};

const median = (xs) => { const s = xs.slice().sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

/** fn() `reps` times after one warm-up (none when warmup is false): { ms (median), runs (each) }. */
export async function measure(fn, reps, warmup = true) {
  if (warmup) await fn();
  const runs = [];
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    await fn();
    runs.push(performance.now() - t);
  }
  return { ms: median(runs), runs };
}

/** DecomCAM of `model` on the sample image for sample.json's text. */
export function tinyExplain(dc, model, image, text, reps, warmup = true) {
  return measure(() => { dc.explain(model, image, [text], { method: 'decomcam', preset: 'paper' }); }, reps, warmup);
}

/** A ViT-B/16 image forward on `backend` (seed 2024, as tools/bench.js); the model is dropped afterwards. */
export async function b16Forward(dc, backend, reps, warmup = true) {
  const config = dc.parseHfConfig(B16_HF, 'bench ViT-B/16');
  const model = dc.seededClip(config, 2024, 'float32', backend);
  const pixels = { data: dc.seededUniform(3, 'pixels', 3 * 224 * 224, 2, 0, 'float32'), shape: [1, 3, 224, 224] };
  return measure(() => { dc.encodeImages(model, pixels); }, reps, warmup);
}
