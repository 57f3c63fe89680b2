// clip/load.ts: load a CLIP model (ViT, or OpenAI's ResNet: clip/resnet.ts) from a local folder (never the network).
//   Hugging Face: config.json + model.safetensors (or sharded: model.safetensors.index.json + shards)
//   OpenAI:       one *.safetensors holding openai/CLIP's state dict; the config is inferred from its shapes
// plus the tokenizer from the same folder (vocab.json + merges.txt, or bpe_simple_vocab_16e6.txt.gz).
// `dir` may also be the path of the OpenAI .safetensors file itself, or a PyTorch checkpoint (io/torch.ts: a
// torch.save or TorchScript .pt/.bin, a folder holding one, or sharded pytorch_model-*.bin with their index).

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DecomcamError, describeJson, fail } from '../errors.js';
import { readSafetensors, type StTensor } from '../io/safetensors.js';
import { findTorchWeights } from '../io/torch.js';
import type { Backend } from '../kernels/backend.js';
import { defaultBackend } from '../kernels/choose.js';
import type { DType } from '../tensor/tensor.js';
import { parameterCount, parseHfConfig, type ClipConfig } from './config.js';
import { createClip, type ClipModel } from './model.js';
import { isResnetStateDict } from './resnet_weights.js';
import { ClipTokenizer } from './tokenizer.js';
import {
  allocParams, checkCheckpoint, detectLayout, fillFromCheckpoint, inferOpenAiConfig, paramSpecs, type Layout, type Params,
} from './weights.js';

/**
 * Loads a CLIP model from a folder (or a .safetensors / PyTorch checkpoint file) in the HF or OpenAI layout.
 * dtype defaults to 'float32'; backend to the default (fastest working) backend for float32, the reference for
 * float64; the tokenizer is read beside the weights, or from opts.vocab (a folder, or a file in it).
 * Throws DecomcamError ('usage') for a missing or unreadable model.
 */
export function loadClip(dir: string, opts: { dtype?: DType; backend?: Backend; vocab?: string } = {}): ClipModel {
  const dtype = opts.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'float64') fail(`dtype "${String(dtype)}" is not supported: use float32 or float64`, 'usage');
  if (!existsSync(dir)) fail(`model folder ${dir} does not exist`, 'usage');
  const stat = statSync(dir);
  const isFile = stat.isFile();
  if (!isFile && !stat.isDirectory()) {
    fail(`model ${dir} is neither a folder nor a .safetensors file (give a model folder or its .safetensors file)`, 'usage');
  }
  const folder = isFile ? dirname(dir) : dir;
  const configPath = join(folder, 'config.json');

  // which file(s), which layout, which configuration
  let tensors: Map<string, StTensor>;
  let source: string;
  let config: ClipConfig;
  let configSource: string;
  let layout: Layout;
  const torch = findTorchWeights(dir); // null unless a PyTorch checkpoint (then it stands in for the safetensors)
  if (!isFile && existsSync(configPath)) {
    ({ tensors, source } = torch ?? readHfWeights(folder));
    if (isResnetStateDict(tensors.keys())) { // clip/resnet_weights.ts
      fail(`${source} holds a ResNet CLIP (visual.layer1.* tensors) but ${configPath} describes a Hugging Face CLIP, which is ` +
        'always a ViT (transformers has no CLIP ResNet): give the folder of its OpenAI-named .safetensors without a config.json');
    }
    layout = detectLayout(tensors, source);
    config = parseHfConfig(readJsonFile(configPath), configPath);
    configSource = configPath;
  } else {
    source = torch ? torch.source : isFile ? dir : onlySafetensors(folder);
    tensors = torch ? torch.tensors : readSafetensors(source).tensors;
    layout = detectLayout(tensors, source);
    if (layout === 'hf') fail(`${source} has Hugging Face tensor names but ${configPath} is missing (an HF model needs its config.json)`);
    config = inferOpenAiConfig(new Map([...tensors].map(([k, t]) => [k, t.shape])), source);
    configSource = 'the shapes of its tensors';
  }

  // every tensor's shape against the configuration first: nothing is allocated for a config the file does not back
  checkCheckpoint(paramSpecs(config), tensors, layout, source, configSource);
  const backend = opts.backend ?? (dtype === 'float32' ? defaultBackend().backend : undefined); // auto; float64: the reference
  let params: Params;
  try {
    params = allocParams(config, dtype, backend);
  } catch (e) {
    const n = parameterCount(config);
    const bytes = n * (dtype === 'float64' ? 8 : 4);
    fail(`${source}: the model's ${n} parameters need ${(bytes / 2 ** 30).toFixed(1)} GiB as ${dtype}, which cannot be ` +
      `allocated here (${(e as Error).message})`);
  }
  fillFromCheckpoint(params, tensors, layout, source, configSource);
  // the tokenizer beside the weights, or in opts.vocab (a folder, or a file in it)
  const vocabDir = opts.vocab ? (existsSync(opts.vocab) && statSync(opts.vocab).isFile() ? dirname(opts.vocab) : opts.vocab) : folder;
  const hasVocab = (existsSync(join(vocabDir, 'vocab.json')) && existsSync(join(vocabDir, 'merges.txt'))) ||
    existsSync(join(vocabDir, 'bpe_simple_vocab_16e6.txt.gz'));
  if (opts.vocab && !hasVocab) fail(`--vocab ${opts.vocab}: no vocab.json + merges.txt or bpe_simple_vocab_16e6.txt.gz there`, 'usage');
  const tokenizer = hasVocab ? ClipTokenizer.fromFolder(vocabDir) : null;
  if (tokenizer && (tokenizer.eot !== config.text.eotId || tokenizer.vocabSize > config.text.vocabSize)) {
    fail(`the tokenizer in ${vocabDir} (${tokenizer.vocabSize} tokens, <|endoftext|> = ${tokenizer.eot}) does not fit the model ` +
      `(vocabulary ${config.text.vocabSize}, end-of-text id ${config.text.eotId}): are these files from the same model?`);
  }
  return createClip(config, params, { backend, tokenizer, source });
}

// model.safetensors, or the shards listed by model.safetensors.index.json.
function readHfWeights(folder: string): { tensors: Map<string, StTensor>; source: string } {
  const single = join(folder, 'model.safetensors');
  if (existsSync(single)) return { tensors: readSafetensors(single).tensors, source: single };
  const index = join(folder, 'model.safetensors.index.json');
  if (existsSync(index)) {
    const json = readJsonFile(index);
    const map = typeof json === 'object' && json !== null ? (json as Record<string, unknown>).weight_map : undefined;
    if (typeof map !== 'object' || map === null || Array.isArray(map)) fail(`${index} has no "weight_map" object`);
    const tensors = new Map<string, StTensor>();
    for (const shard of new Set(Object.values(map as Record<string, unknown>))) {
      if (typeof shard !== 'string') fail(`${index}: weight_map names a shard ${describeJson(shard)}, expected a file name`);
      for (const [k, t] of readSafetensors(join(folder, basename(shard))).tensors) tensors.set(k, t);
    }
    return { tensors, source: index };
  }
  const hint = existsSync(join(folder, 'pytorch_model.bin'))
    ? ': only pytorch_model.bin is there, which is a pickle; convert it to model.safetensors first'
    : '';
  fail(`${folder} has config.json but no model.safetensors${hint}`);
}

// A small JSON file of the model folder (config.json, the shard index): a regular file of at most 16 MB (never
// /dev/zero or a FIFO), UTF-8, JSON; each failure says which file and what is wrong.
const MAX_JSON_BYTES = 16 * 2 ** 20;
function readJsonFile(path: string): unknown {
  let text: string;
  try {
    const st = statSync(path);
    if (!st.isFile()) fail(`${path} is not a regular file (expected a JSON file)`);
    if (st.size > MAX_JSON_BYTES) fail(`${path} is ${st.size} bytes, too large for a JSON configuration (limit ${MAX_JSON_BYTES})`);
    text = new TextDecoder('utf-8', { fatal: true }).decode(readFileSync(path));
  } catch (e) {
    if (e instanceof DecomcamError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    fail(code === 'ERR_ENCODING_INVALID_ENCODED_DATA' ? `${path} is not UTF-8 text` : `cannot read ${path}: ${code ?? (e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    fail(`${path} is not valid JSON: ${(e as Error).message.slice(0, 200)}`);
  }
}

function onlySafetensors(folder: string): string {
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch (e) {
    fail(`cannot list model folder ${folder}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'usage');
  }
  const files = names.filter((f) => f.endsWith('.safetensors'));
  if (files.length === 0) {
    fail(`${folder} holds no CLIP model: expected config.json + model.safetensors (Hugging Face) or one .safetensors file with OpenAI names`, 'usage');
  }
  if (files.length > 1) fail(`${folder} holds several .safetensors files (${files.join(', ')}) and no config.json: pass the file itself`, 'usage');
  return join(folder, files[0]);
}
