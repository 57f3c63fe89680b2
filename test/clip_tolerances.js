// test/clip_tolerances.js: the one table of tolerances for the CLIP and layer tests (issue 3), each relative
// to the compared stage's max |reference value| (test/helpers/compare.js).
//   forward   activations, embeddings, logits                     float32 1e-5   float64 1e-12
//   grad      input and weight gradients of a score / of (out·dout).sum()   1e-4   1e-12
//   fd        hand-written backward vs central finite differences (float64 only, step 1e-6)
export const TOL = {
  float32: { forward: 1e-5, grad: 1e-4 },
  float64: { forward: 1e-12, grad: 1e-12 },
  fd: 1e-7,
};
