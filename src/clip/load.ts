// clip/load.ts: load a CLIP ViT model from a local folder (never the network).
//   Hugging Face: config.json + model.safetensors (or sharded: model.safetensors.index.json + shards)
//   OpenAI:       one *.safetensors holding openai/CLIP's state dict; the config is inferred from its shapes
// plus the tokenizer from the same folder (vocab.json + merges.txt, or bpe_simple_vocab_16e6.txt.gz).
// `dir` may also be the path of the OpenAI .safetensors file itself, or a PyTorch checkpoint (io/torch.ts: a
// torch.save or TorchScript .pt/.bin, a folder holding one, or sharded pytorch_model-*.bin with their index).

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fail } from '../errors.js';
import { readSafetensors, type StTensor } from '../io/safetensors.js';
import { findTorchWeights } from '../io/torch.js';
import type { Backend } from '../kernels/backend.js';
import type { DType } from '../tensor/tensor.js';
import { parseHfConfig, type ClipConfig } from './config.js';
import { createClip, type ClipModel } from './model.js';
import { ClipTokenizer } from './tokenizer.js';
import { allocParams, detectLayout, fillFromCheckpoint, inferOpenAiConfig, type Layout } from './weights.js';

export function loadClip(dir: string, opts: { dtype?: DType; backend?: Backend; vocab?: string } = {}): ClipModel {
  const dtype = opts.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'float64') fail(`dtype "${String(dtype)}" is not supported: use float32 or float64`, 'usage');
  if (!existsSync(dir)) fail(`model folder ${dir} does not exist`, 'usage');
  const isFile = statSync(dir).isFile();
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
    layout = detectLayout(tensors, source);
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(configPath, 'utf8'));
    } catch (e) {
      fail(`${configPath} is not valid JSON: ${(e as Error).message}`);
    }
    config = parseHfConfig(json, configPath);
    configSource = configPath;
  } else {
    source = torch ? torch.source : isFile ? dir : onlySafetensors(folder);
    tensors = torch ? torch.tensors : readSafetensors(source).tensors;
    layout = detectLayout(tensors, source);
    if (layout === 'hf') fail(`${source} has Hugging Face tensor names but ${configPath} is missing (an HF model needs its config.json)`);
    config = inferOpenAiConfig(new Map([...tensors].map(([k, t]) => [k, t.shape])), source);
    configSource = 'the shapes of its tensors';
  }

  const params = allocParams(config, dtype, opts.backend);
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
  return createClip(config, params, { backend: opts.backend, tokenizer, source });
}

// model.safetensors, or the shards listed by model.safetensors.index.json.
function readHfWeights(folder: string): { tensors: Map<string, StTensor>; source: string } {
  const single = join(folder, 'model.safetensors');
  if (existsSync(single)) return { tensors: readSafetensors(single).tensors, source: single };
  const index = join(folder, 'model.safetensors.index.json');
  if (existsSync(index)) {
    let map: unknown;
    try {
      map = JSON.parse(readFileSync(index, 'utf8')).weight_map;
    } catch (e) {
      fail(`${index} is not valid JSON: ${(e as Error).message}`);
    }
    if (typeof map !== 'object' || map === null) fail(`${index} has no "weight_map" object`);
    const tensors = new Map<string, StTensor>();
    for (const shard of new Set(Object.values(map as Record<string, string>))) {
      for (const [k, t] of readSafetensors(join(folder, basename(String(shard)))).tensors) tensors.set(k, t);
    }
    return { tensors, source: index };
  }
  const hint = existsSync(join(folder, 'pytorch_model.bin'))
    ? ': only pytorch_model.bin is there, which is a pickle; convert it to model.safetensors first'
    : '';
  fail(`${folder} has config.json but no model.safetensors${hint}`);
}

function onlySafetensors(folder: string): string {
  const files = readdirSync(folder).filter((f) => f.endsWith('.safetensors'));
  if (files.length === 0) {
    fail(`${folder} holds no CLIP model: expected config.json + model.safetensors (Hugging Face) or one .safetensors file with OpenAI names`, 'usage');
  }
  if (files.length > 1) fail(`${folder} holds several .safetensors files (${files.join(', ')}) and no config.json: pass the file itself`, 'usage');
  return join(folder, files[0]);
}
