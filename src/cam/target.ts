// cam/target.ts: what a CAM explains — a scalar score S(v) of the image embedding v (E) against a text or any
// embedding t (E), and its gradient dS/dv, which starts the hand-written backward. Three score kinds:
//   cosine     S = <v,t> / (|v| |t|)                the paper's score (and reported as `cosine` everywhere)
//   scaledDot  S = logit_scale · <v,t>              the official code: the raw parameter, not its exp, unnormalised
//   logit      S = exp(logit_scale) · cosine        CLIP's logits_per_image (gScoreCAM's own CLIP code scores this)

import { fail } from '../errors.js';
import type { Float } from '../tensor/tensor.js';

export type ScoreKind = 'cosine' | 'scaledDot' | 'logit';
export const SCORE_KINDS: readonly ScoreKind[] = ['cosine', 'scaledDot', 'logit'];

// A target before the model has been seen: a prompt (encoded by the model's text tower) or a ready embedding.
export interface Target {
  label: string;          // what results call it: the prompt, or the embedding's label
  kind: ScoreKind;
  prompt?: string;        // set for text targets
  vector?: Float;         // (E) set for embedding targets
}

export function textTarget(prompt: string, kind: ScoreKind = 'cosine'): Target {
  if (typeof prompt !== 'string' || prompt.trim() === '') {
    fail(`text target ${JSON.stringify(prompt)} is empty: give a non-empty prompt (e.g. "a photo of a cat")`, 'usage');
  }
  checkKind(kind);
  return { label: prompt, kind, prompt };
}

export function embeddingTarget(vector: Float, kind: ScoreKind = 'cosine', label = 'embedding'): Target {
  if (!(vector instanceof Float32Array || vector instanceof Float64Array) || vector.length === 0) {
    fail(`embedding target "${label}" must be a non-empty Float32Array or Float64Array (E values)`, 'usage');
  }
  for (let i = 0; i < vector.length; i++) {
    if (!Number.isFinite(vector[i])) fail(`embedding target "${label}" has ${vector[i]} at index ${i}: values must be finite`, 'usage');
  }
  checkKind(kind);
  return { label, kind, vector };
}

function checkKind(kind: string): void {
  if (!SCORE_KINDS.includes(kind as ScoreKind)) {
    fail(`score kind "${kind}" is unknown: expected one of ${SCORE_KINDS.join(', ')}`, 'usage');
  }
}

// <a[ao : ao+E], b>
function dot(a: Float, ao: number, b: Float, E: number): number {
  let s = 0;
  for (let e = 0; e < E; e++) s += a[ao + e] * b[e];
  return s;
}

// |a[ao : ao+E]|
function norm(a: Float, ao: number, E: number): number {
  let s = 0;
  for (let e = 0; e < E; e++) s += a[ao + e] * a[ao + e];
  return Math.sqrt(s);
}

// Cosine of row b of v (B,E) with t (E). A zero vector has no direction: its cosine is 0 (as torch's
// cosine_similarity, which divides by max(|v||t|, eps)).
export function cosineRow(v: Float, b: number, t: Float, E: number): number {
  const nv = norm(v, b * E, E);
  const nt = norm(t, 0, E);
  return nv * nt > 0 ? dot(v, b * E, t, E) / (nv * nt) : 0;
}

// S for every row of v (B,E): (B).
export function scoreRows(kind: ScoreKind, v: Float, B: number, t: Float, logitScale: number): Float64Array {
  const E = t.length;
  const out = new Float64Array(B);
  for (let b = 0; b < B; b++) {
    if (kind === 'scaledDot') out[b] = logitScale * dot(v, b * E, t, E);
    else if (kind === 'logit') out[b] = Math.exp(logitScale) * cosineRow(v, b, t, E);
    else out[b] = cosineRow(v, b, t, E);
  }
  return out;
}

// S and dS/dv for one image embedding v (E):
//   cosine:    dS/dv = t / (|v||t|) − S · v / |v|²
//   scaledDot: dS/dv = logit_scale · t
//   logit:     dS/dv = exp(logit_scale) · dcos/dv
export function scoreAndGrad(kind: ScoreKind, v: Float, t: Float, logitScale: number): { score: number; dv: Float64Array } {
  const E = t.length;
  const dv = new Float64Array(E);
  if (kind === 'scaledDot') {
    for (let e = 0; e < E; e++) dv[e] = logitScale * t[e];
    return { score: logitScale * dot(v, 0, t, E), dv };
  }
  const nv = norm(v, 0, E);
  const nt = norm(t, 0, E);
  const scale = kind === 'logit' ? Math.exp(logitScale) : 1;
  if (!(nv * nt > 0)) return { score: 0, dv }; // a zero embedding: score 0, no direction to follow
  const cos = dot(v, 0, t, E) / (nv * nt);
  for (let e = 0; e < E; e++) dv[e] = scale * (t[e] / (nv * nt) - (cos * v[e]) / (nv * nv));
  return { score: scale * cos, dv };
}
