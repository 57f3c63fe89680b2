// clip/score.ts: how CLIP scores an image embedding v against a text embedding t, in one home — the cosine,
// CLIP's logits exp(logit_scale)·cos (CLIPModel.forward's logits_per_image), their softmax over a set of prompts
// (zero-shot probabilities), and the gradients dS/dv that start a CAM's backward. Three score kinds:
//   cosine     S = <v,t> / (|v| |t|)                the paper's score (and reported as `cosine` everywhere)
//   scaledDot  S = logit_scale · <v,t>              the official DecomCAM code: the raw parameter, not its exp
//   logit      S = exp(logit_scale) · cosine        CLIP's logits_per_image (gScoreCAM's own CLIP code scores this)
// Shapes: v (B,E) row-major, t (E), texts (P,E). `logitScale` is the raw parameter (ln 100 for OpenAI's models).

import type { Float } from '../tensor/tensor.js';

/** How a target scores the image embedding: `'cosine'` (the paper), `'scaledDot'` (the official DecomCAM code:
 * logit_scale · ⟨v,t⟩ with the raw parameter) or `'logit'` (exp(logit_scale) · cosine, CLIP's logits). */
export type ScoreKind = 'cosine' | 'scaledDot' | 'logit';
/** Every score kind, in the order messages list them. */
export const SCORE_KINDS: readonly ScoreKind[] = ['cosine', 'scaledDot', 'logit'];

// <a[ao : ao+E], b[bo : bo+E]>
function dot(a: Float, ao: number, b: Float, bo: number, E: number): number {
  let s = 0;
  for (let e = 0; e < E; e++) s += a[ao + e] * b[bo + e];
  return s;
}

// |a[ao : ao+E]|
function norm(a: Float, ao: number, E: number): number {
  let s = 0;
  for (let e = 0; e < E; e++) s += a[ao + e] * a[ao + e];
  return Math.sqrt(s);
}

/** Cosine of row b of v (B,E) with t (E). A zero vector has no direction: its cosine is 0 (as torch's
 * cosine_similarity, which divides by max(|v||t|, eps)). */
export function cosineRow(v: Float, b: number, t: Float, E: number): number {
  const nv = norm(v, b * E, E);
  const nt = norm(t, 0, E);
  return nv * nt > 0 ? dot(v, b * E, t, 0, E) / (nv * nt) : 0;
}

/** The score S of every row of v (B,E) against t (E): (B). */
export function scoreRows(kind: ScoreKind, v: Float, B: number, t: Float, logitScale: number): Float64Array {
  const E = t.length;
  const out = new Float64Array(B);
  for (let b = 0; b < B; b++) {
    if (kind === 'scaledDot') out[b] = logitScale * dot(v, b * E, t, 0, E);
    else if (kind === 'logit') out[b] = Math.exp(logitScale) * cosineRow(v, b, t, E);
    else out[b] = cosineRow(v, b, t, E);
  }
  return out;
}

/** S and dS/dv for one image embedding v (E):
 *   cosine:    dS/dv = t / (|v||t|) − S · v / |v|²
 *   scaledDot: dS/dv = logit_scale · t
 *   logit:     dS/dv = exp(logit_scale) · dcos/dv */
export function scoreAndGrad(kind: ScoreKind, v: Float, t: Float, logitScale: number): { score: number; dv: Float64Array } {
  const E = t.length;
  const dv = new Float64Array(E);
  if (kind === 'scaledDot') {
    for (let e = 0; e < E; e++) dv[e] = logitScale * t[e];
    return { score: logitScale * dot(v, 0, t, 0, E), dv };
  }
  const nv = norm(v, 0, E);
  const nt = norm(t, 0, E);
  const scale = kind === 'logit' ? Math.exp(logitScale) : 1;
  if (!(nv * nt > 0)) return { score: 0, dv }; // a zero embedding: score 0, no direction to follow
  const cos = dot(v, 0, t, 0, E) / (nv * nt);
  for (let e = 0; e < E; e++) dv[e] = scale * (t[e] / (nv * nt) - (cos * v[e]) / (nv * nv));
  return { score: scale * cos, dv };
}

/** softmax of x[o : o+n] in place (the max subtracted first, as torch.softmax, for range); returns x. */
export function softmaxInPlace(x: Float64Array, o = 0, n = x.length - o): Float64Array {
  let m = -Infinity;
  for (let i = o; i < o + n; i++) m = Math.max(m, x[i]);
  let sum = 0;
  for (let i = o; i < o + n; i++) {
    x[i] = Math.exp(x[i] - m);
    sum += x[i];
  }
  for (let i = o; i < o + n; i++) x[i] /= sum;
  return x;
}

/** softmax over a vector, as a new array. */
export function softmax(x: Float64Array): Float64Array {
  return softmaxInPlace(Float64Array.from(x));
}

/** Rows of x (R,E) scaled to unit length, float64 (a zero row stays NaN-free only if it is not zero). */
export function unitRows(x: Float, E: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / E; r++) {
    const n = norm(x, r * E, E);
    for (let e = 0; e < E; e++) out[r * E + e] = x[r * E + e] / n;
  }
  return out;
}

/** CLIP's logits exp(logit_scale) · cos(image b, text p), (B,P), from image embeddings v (B,E) and text rows
 * already at unit length (unitRows): logit = exp(logit_scale) · <v_b, t_p> / |v_b|. */
export function logitsToUnitTexts(v: Float, B: number, textUnit: Float64Array, P: number, logitScale: number): Float64Array {
  const E = textUnit.length / P;
  const scale = Math.exp(logitScale);
  const out = new Float64Array(B * P);
  for (let b = 0; b < B; b++) {
    const n = norm(v, b * E, E);
    for (let p = 0; p < P; p++) out[b * P + p] = (scale * dot(v, b * E, textUnit, p * E, E)) / n;
  }
  return out;
}

/** Zero-shot probabilities (B,P): the softmax over the P prompts of CLIP's logits, for each image row of v (B,E);
 * textUnit (P,E) from unitRows. */
export function promptProbabilities(v: Float, B: number, textUnit: Float64Array, P: number, logitScale: number): Float64Array {
  const out = logitsToUnitTexts(v, B, textUnit, P, logitScale);
  for (let b = 0; b < B; b++) softmaxInPlace(out, b * P, P);
  return out;
}
