// test/cam_tolerances.js: the tolerances of the CAM tests (issue 5), relative to each stage's max |reference|
// (test/helpers/compare.js), built on the CLIP issue's table (test/clip_tolerances.js):
//   forward   activations, embeddings, scores, the blurred image          float32 1e-5   float64 1e-12
//   grad      gradients at the layer, α                                    float32 1e-4   float64 1e-12
//   derived   what the gradients feed: X, singular values, OSSMs, M_q, masks, perturbed images and their
//             scores, weights (channel or component), raw maps             float32 1e-4   float64 1e-12
//   map       final maps, which lie in [0, 1] (so this is absolute)      float32 1e-4   float64 1e-12
import { TOL as CLIP } from './clip_tolerances.js';

export const CAM_TOL = {
  f32: { forward: CLIP.float32.forward, grad: CLIP.float32.grad, derived: CLIP.float32.grad, map: 1e-4 },
  f64: { forward: CLIP.float64.forward, grad: CLIP.float64.grad, derived: CLIP.float64.grad, map: 1e-12 },
};
