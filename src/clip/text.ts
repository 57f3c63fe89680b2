// clip/text.ts: the text tower of CLIP, forward only, as HF CLIPTextTransformer + text_projection (OpenAI
// encode_text): token + position embeddings → L causal blocks → final LN → pool at the end-of-text token → proj.
// Pooling reads the first end-of-text id: OpenAI pads with 0 and takes argmax (eot is the largest id), HF pads
// with eot itself; both give that position. The causal mask means tokens after it never affect it, so each
// sequence is run only up to it (T = its position + 1): exact, and far shorter than the 77-token context.
// Each sequence's arrays come from a Workspace (the backend's memory) given back once it is done.
// Letters (clip/config.ts): Bt texts, T tokens, D width, E embedding, V vocab.

import { fail } from '../errors.js';
import { tokenEmbedForward } from '../nn/embed.js';
import { Workspace } from '../kernels/workspace.js';
import { layernormOn } from '../nn/layernorm.js';
import { linearOn } from '../nn/linear.js';
import { allocFloat, tensor, type Float, type Tensor } from '../tensor/tensor.js';
import { blockForward, forwardScratch, forwardScratchSize, type BlockDims } from './block.js';
import type { ClipModel } from './model.js';

/**
 * Unnormalised text embeddings (Bt,E) of token sequences (each ≤ the context length, holding an eot id).
 */
export function encodeTokens(model: ClipModel, tokens: Int32Array[]): Tensor {
  const { config, backend: be, dtype } = model;
  const t = config.text;
  const tp = model.text;
  const D = t.width, E = config.embedDim;
  if (!Array.isArray(tokens) || tokens.length === 0) fail('encodeTokens: expected a non-empty array of token sequences', 'usage');
  const out = allocFloat(dtype, tokens.length * E);
  tokens.forEach((ids, n) => {
    const T = pooledLength(ids, n, t.contextLength, t.vocabSize, t.eotId);
    const d: BlockDims = { B: 1, N: T, nq: T, D, H: t.heads, F: t.mlpWidth, causal: true, act: t.act, eps: t.eps };
    const ws = new Workspace(be, dtype);
    const alloc = (n: number): Float => ws.alloc(n);
    try {
      // one forward-only scratch set for every block, the residual stream alternating between two buffers:
      // block i reads what block i − 1 wrote
      const x = alloc(T * D);
      tokenEmbedForward(x, ids, tp.token, tp.pos, T, D);
      const scratch = alloc(forwardScratchSize(d));
      const streams = [alloc(T * D), alloc(T * D)];
      let stream = x;
      for (let i = 0; i < t.layers; i++) {
        const a = forwardScratch(d, scratch, stream, streams[i % 2]);
        blockForward(be, a, tp.blocks[i], d);
        stream = a.out;
      }
      // final LN is per token: only the pooled (last) row is needed
      const pooled = alloc(D);
      layernormOn(be, pooled, alloc(1), alloc(1), stream.subarray((T - 1) * D, T * D), tp.lnFinalW, tp.lnFinalB, 1, D, t.eps);
      linearOn(be, out.subarray(n * E, (n + 1) * E), pooled, tp.proj, null, 1, D, E);
    } finally {
      ws.release();
    }
  });
  return tensor(out, [tokens.length, E]);
}

// Checks one sequence and returns the number of tokens up to and including its first end-of-text id.
function pooledLength(ids: Int32Array, n: number, context: number, V: number, eot: number): number {
  if (!(ids instanceof Int32Array)) fail(`token sequence ${n} is not an Int32Array`, 'usage');
  if (ids.length > context) {
    fail(`token sequence ${n} has ${ids.length} tokens, more than this model's context of ${context}`, 'usage');
  }
  let first = -1;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (id < 0 || id >= V) fail(`token sequence ${n} holds id ${id} at position ${i}, outside the vocabulary 0-${V - 1}`, 'usage');
    if (id === eot && first < 0) first = i;
  }
  if (first < 0) fail(`token sequence ${n} has no end-of-text token (id ${eot}); CLIP pools its embedding there`, 'usage');
  return first + 1;
}
