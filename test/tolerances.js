// test/tolerances.js: every float32 tolerance of the tests, in one table (issue 14, point 9), each relative to
// the compared stage's max |reference| (test/helpers/compare.js) unless said otherwise. Each float32 entry is
// ≤ ~20× the largest error observed with it (ts, wasm 1 and 2 threads, plain and FMA builds, gpu.js webasm;
// 2-core x86, Node 20) and ≥ 3× every backend's. "obs" is that largest error, "was" the value before.
// Float64 and exact entries stay as they were. test/clip_tolerances.js and test/cam_tolerances.js re-export
// from here under their old names.

// CLIP model stages vs PyTorch (clip, clip_b16, tiny_clip, backends' full-model runs).
export const CLIP_TOL = {
  float32: {
    forward: 1e-5,    // activations, embeddings, logits; obs 2.4e-6 (gpu.js full-width block 6 mlp), 1.2e-6 wasm; was 1e-5
    grad: 5e-5,       // input gradients of a score; obs 2.8e-6 (wasm 2 threads, ViT-B/16 blocks.11.ln_1); was 1e-4
    weightGrad: 1e-5, // weight gradients; obs 5.1e-7 (wasm), 4.5e-7 (gpu.js); was 1e-4 (the grad entry)
  },
  float64: { forward: 1e-12, grad: 1e-12 },
  fd: 1e-7,           // float64 hand-written backward vs central finite differences (step 1e-6)
};

// One layer at a time vs PyTorch (nn.test.js: linear, layernorm, gelu, attention, embed, HF encoder layer).
export const OP_TOL = {
  float32: {
    forward: 1e-5,    // obs 3.5e-7 (embed.out); was 1e-5
    grad: 1e-5,       // input and weight gradients; obs 5.2e-7 (quick_gelu.dinp); was 1e-4
  },
  float64: CLIP_TOL.float64,
  fd: CLIP_TOL.fd,
};

// CAM stages vs PyTorch (cam, cam_vitb16).
//   forward   activations, embeddings, scores, the blurred image
//   grad      gradients at the layer, α
//   derived   X, singular values, OSSMs, M_q, masks, perturbed images and scores, weights, raw maps
//   map       final maps in [0, 1] (so absolute)
export const CAM_TOL = {
  f32: {
    forward: CLIP_TOL.float32.forward, // obs 1.0e-6 (vitb16 paper.cosine)
    grad: CLIP_TOL.float32.grad,       // obs ≤ 3.3e-6 with derived and map below
    derived: 5e-5,                     // obs 1.4e-6 (vitb16 paper.ossm); was 1e-4
    map: 5e-5,                         // obs 3.3e-6 (tiny f32 paper map); was 1e-4
  },
  f64: { forward: 1e-12, grad: 1e-12, derived: 1e-12, map: 1e-12 },
};

// Backend kernels vs the ts reference (backends.test.js). Backends sum in float32 (ts in float64, rounded once),
// so a sum of K terms may differ by ~√K·2⁻²⁴ of its terms' scale; the wasm exp is a degree-6 polynomial.
export const KERNEL_TOL = {
  matmul: 1e-5,            // obs 9.2e-7 (wasm, 21x768x36); was 1e-5
  matmulBackward: 1e-5,    // obs within matmul's
  attention: 1e-5,         // obs 6.8e-7 (wasm); was 1e-5
  attentionBackward: 1e-5, // obs 4.6e-7 (gpu.js datt); was 1e-5
  layernorm: 2e-6,         // obs 1.3e-7 (wasm); was 1e-5
  quickGelu: 1e-5,         // obs 4.7e-7 (wasm backward); was 1e-5
};

// src/image/ vs PIL, torch, scipy, OpenCV (image.test.js). uint8 stages: levels / 255 with a floor of 255.
export const IMAGE_TOL = {
  png: 0,                 // PNG decode: exact
  jpegLevels: 3,          // JPEG decode: jpeg-js's IDCT vs libjpeg's ISLOW, ±3 levels (measured max 3)
  jpegMeanLevels: 0.25,   // ... and on average (measured ≤ 0.17)
  jpegResizedLevels: 5,   // after PIL resize of a JPEG: 3 levels × Σ|w| of two bicubic passes (measured 2)
  resize: 0,              // PIL bicubic resize on uint8: exact
  preprocess: 0,          // Resize + CenterCrop + ToTensor + Normalize (f32 and f64) from a PNG: exact
  interpF32: 1e-6,        // vs torch float32 (torch sums in float32; we sum in double); obs 8.5e-7
  interpF32Exact: 2e-7,   // vs torch float64 of the same float32 input, rounded: within an ulp; obs 3.8e-8
  interpF64: 1e-12,
  blurF32: 1.2e-7,        // one float32 ulp of the max (2⁻²³); obs 0 (we match scipy's float32 bit for bit); was 1e-6
  blurF64: 1e-12,
  colormap: 0,            // JET table, heat map and overlay: exact
};

// The ResNet image tower (issue 15; resnet_ops, resnet_tiny, resnet_rn50 tests) vs openai/CLIP's model.py in torch:
// the CLIP and CAM columns above, unchanged (a ResNet stage is compared with the same per-stage tolerance as a
// ViT's). Observed maxima are in the tests' output lines.
export const RESNET_TOL = {
  float32: { forward: CLIP_TOL.float32.forward, grad: CLIP_TOL.float32.grad, weightGrad: CLIP_TOL.float32.weightGrad },
  float64: CLIP_TOL.float64,
  fd: CLIP_TOL.fd,
  cam: CAM_TOL,
};
