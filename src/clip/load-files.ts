// clip/load-files.ts: loadClip for a model given as bytes — a Map (or object) of file name → Uint8Array, as a
// browser has it from fetch() or dropped files — instead of a folder on disk. The same layouts as clip/load.ts
// (Hugging Face: config.json + model.safetensors or its shards with model.safetensors.index.json; OpenAI: one
// .safetensors with openai/CLIP's names, the config inferred from its shapes) and the same checks, through the
// same functions of clip/weights.ts; the tokenizer comes from vocab.json + merges.txt among the files.

import { describeJson, fail } from '../errors.js';
import { parseSafetensors, type StTensor } from '../io/safetensors.js';
import type { Backend } from '../kernels/backend.js';
import { defaultBackend } from '../kernels/choose.js';
import type { DType } from '../tensor/tensor.js';
import { parameterCount, parseHfConfig, type ClipConfig } from './config.js';
import { createClip, type ClipModel } from './model.js';
import { ClipTokenizer } from './tokenizer.js';
import { allocParams, checkCheckpoint, detectLayout, fillFromCheckpoint, inferOpenAiConfig, type Layout, type Params } from './weights.js';
import { paramSpecs } from './weights.js';

/** A model's files by name (a path's last part is enough: 'config.json', 'model.safetensors', 'vocab.json', …). */
export type ModelFiles = Map<string, Uint8Array> | Record<string, Uint8Array>;

const MAX_JSON_BYTES = 16 * 2 ** 20;

function text(bytes: Uint8Array, name: string, limit = MAX_JSON_BYTES): string {
  if (bytes.length > limit) fail(`${name} is ${bytes.length} bytes, too large for what it should hold (limit ${limit})`, 'usage');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return fail(`${name} is not UTF-8 text`, 'usage');
  }
}

function json(bytes: Uint8Array, name: string): unknown {
  const t = text(bytes, name);
  try {
    return JSON.parse(t);
  } catch (e) {
    return fail(`${name} is not valid JSON: ${(e as Error).message.slice(0, 200)}`, 'usage');
  }
}

/**
 * Loads a CLIP ViT model from its files' bytes (see ModelFiles); options as loadClip's (dtype, backend) and
 * `label` naming the model in messages. Throws DecomcamError ('usage') naming the file at fault.
 *
 *     const files = new Map([['config.json', bytes1], ['model.safetensors', bytes2], ['vocab.json', …], ['merges.txt', …]]);
 *     const model = loadClipFromFiles(files, { backend });
 */
export function loadClipFromFiles(input: ModelFiles, opts: { dtype?: DType; backend?: Backend; label?: string } = {}): ClipModel {
  const dtype = opts.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'float64') fail(`dtype "${String(dtype)}" is not supported: use float32 or float64`, 'usage');
  const label = opts.label ?? 'the model files';
  const files = new Map<string, Uint8Array>();
  for (const [path, bytes] of input instanceof Map ? input : Object.entries(input)) {
    if (!(bytes instanceof Uint8Array)) fail(`${label}: ${path} is ${describeJson(bytes)}, expected its bytes as a Uint8Array`, 'usage');
    files.set(path.slice(path.lastIndexOf('/') + 1), bytes);
  }
  const names = [...files.keys()];
  const named = (n: string): string => `${label}/${n}`;

  let tensors: Map<string, StTensor>;
  let source: string;
  let config: ClipConfig;
  let configSource: string;
  let layout: Layout;
  const configBytes = files.get('config.json');
  if (configBytes) {
    ({ tensors, source } = hfWeights(files, named));
    layout = detectLayout(tensors, source);
    config = parseHfConfig(json(configBytes, named('config.json')), named('config.json'));
    configSource = named('config.json');
  } else {
    const st = names.filter((n) => n.endsWith('.safetensors'));
    if (st.length === 0) {
      fail(`${label} hold no CLIP model: expected config.json + model.safetensors (Hugging Face) or one .safetensors file ` +
        `with OpenAI names (got ${names.length ? names.join(', ') : 'no files'})`, 'usage');
    }
    if (st.length > 1) fail(`${label}: several .safetensors files (${st.join(', ')}) and no config.json: give one`, 'usage');
    source = named(st[0]);
    tensors = parseSafetensors(files.get(st[0]) as Uint8Array, source).tensors;
    layout = detectLayout(tensors, source);
    if (layout === 'hf') fail(`${source} has Hugging Face tensor names but config.json is missing (an HF model needs its config.json)`);
    config = inferOpenAiConfig(new Map([...tensors].map(([k, t]) => [k, t.shape])), source);
    configSource = 'the shapes of its tensors';
  }

  checkCheckpoint(paramSpecs(config), tensors, layout, source, configSource);
  const backend = opts.backend ?? (dtype === 'float32' ? defaultBackend().backend : undefined);
  let params: Params;
  try {
    params = allocParams(config, dtype, backend);
  } catch (e) {
    const n = parameterCount(config);
    return fail(`${source}: the model's ${n} parameters need ${((n * (dtype === 'float64' ? 8 : 4)) / 2 ** 30).toFixed(1)} GiB ` +
      `as ${dtype}, which cannot be allocated here (${(e as Error).message})`);
  }
  fillFromCheckpoint(params, tensors, layout, source, configSource);

  const vocab = files.get('vocab.json'), merges = files.get('merges.txt');
  if ((vocab === undefined) !== (merges === undefined)) {
    fail(`${label}: ${vocab ? 'vocab.json is there, merges.txt is not' : 'merges.txt is there, vocab.json is not'} (the tokenizer needs both)`, 'usage');
  }
  let tokenizer: ClipTokenizer | null = null;
  if (vocab && merges) {
    const lines = text(merges, named('merges.txt'), 64 * 2 ** 20).split('\n').map((l) => l.replace(/\r$/, ''));
    if (lines.length > 0 && lines[0].startsWith('#version')) lines.shift();
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    tokenizer = ClipTokenizer.fromVocabMerges(json(vocab, named('vocab.json')) as Record<string, number>, lines,
      `${named('vocab.json')} + ${named('merges.txt')}`);
    if (tokenizer.eot !== config.text.eotId || tokenizer.vocabSize > config.text.vocabSize) {
      fail(`the tokenizer in ${label} (${tokenizer.vocabSize} tokens, <|endoftext|> = ${tokenizer.eot}) does not fit the model ` +
        `(vocabulary ${config.text.vocabSize}, end-of-text id ${config.text.eotId}): are these files from the same model?`);
    }
  }
  return createClip(config, params, { backend, tokenizer, source });
}

// model.safetensors, or the shards listed by model.safetensors.index.json.
function hfWeights(files: Map<string, Uint8Array>, named: (n: string) => string): { tensors: Map<string, StTensor>; source: string } {
  const single = files.get('model.safetensors');
  if (single) return { tensors: parseSafetensors(single, named('model.safetensors')).tensors, source: named('model.safetensors') };
  const index = files.get('model.safetensors.index.json');
  if (!index) fail(`${named('config.json')} is there but model.safetensors is not (nor a model.safetensors.index.json with its shards)`, 'usage');
  const source = named('model.safetensors.index.json');
  const parsed = json(index, source);
  const map = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>).weight_map : undefined;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) fail(`${source} has no "weight_map" object`);
  const tensors = new Map<string, StTensor>();
  for (const shard of new Set(Object.values(map as Record<string, unknown>))) {
    if (typeof shard !== 'string') fail(`${source}: weight_map names a shard ${describeJson(shard)}, expected a file name`);
    const name = shard.slice(shard.lastIndexOf('/') + 1);
    const bytes = files.get(name);
    if (!bytes) fail(`${source} lists the shard ${name}, which is not among the files given`, 'usage');
    for (const [k, t] of parseSafetensors(bytes, named(name)).tensors) tensors.set(k, t);
  }
  return { tensors, source };
}
